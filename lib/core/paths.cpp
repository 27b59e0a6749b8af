#include "core/paths.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace confer {

namespace {

std::string home() {
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/";
}

// XDG: a relative path in the variable is invalid and must be ignored.
std::string xdg(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  std::string base = (v != nullptr && v[0] == '/') ? std::string(v) : home() + "/" + fallback;
  return base + "/confer";
}

}  // namespace

std::string config_dir() { return xdg("XDG_CONFIG_HOME", ".config"); }
std::string data_dir() { return xdg("XDG_DATA_HOME", ".local/share"); }
std::string cache_dir() { return xdg("XDG_CACHE_HOME", ".cache"); }

}  // namespace confer
