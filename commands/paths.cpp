#include <cstdio>

#include "commands/common.hpp"
#include "core/paths.hpp"

namespace confer::cli {

Handler setup_paths(CLI::App& /*app: no options*/) {
  return [] {
    std::printf("config  %s\n", config_dir().c_str());
    std::printf("data    %s\n", data_dir().c_str());
    std::printf("cache   %s\n", cache_dir().c_str());
    return int(kExitOk);
  };
}

}  // namespace confer::cli
