// The user's config.toml / config.json: the flat TOML subset and the JSON form, both
// from the one input.
#include <string_view>

#include "commands/user_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64 << 10)) return 0;  // a config file is a few lines
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)confer::cli::parse_user_config(text, false);
  (void)confer::cli::parse_user_config(text, true);
  return 0;
}
