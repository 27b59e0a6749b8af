// XDG base directories (UX.md "Keys and files").
#pragma once

#include <string>

namespace confer {

std::string config_dir();  // $XDG_CONFIG_HOME/confer, default ~/.config/confer
std::string data_dir();    // $XDG_DATA_HOME/confer, default ~/.local/share/confer
std::string cache_dir();   // $XDG_CACHE_HOME/confer, default ~/.cache/confer

}  // namespace confer
