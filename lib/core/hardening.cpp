#include "core/hardening.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace confer {

Result<void> harden_process() {
  rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0)
    return make_error(Errc::internal, std::string("setrlimit(RLIMIT_CORE, 0): ") + std::strerror(errno));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return make_error(Errc::internal, std::string("prctl(PR_SET_DUMPABLE, 0): ") + std::strerror(errno));
  return {};
}

}  // namespace confer
