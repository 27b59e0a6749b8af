// Every flag the binaries accept appears in each shell's completion file and in the
// command's man page: read from the binaries' own --help, so a new flag without its
// documentation fails here.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <set>

#include "support/support.hpp"

using namespace confer;

namespace {

std::string source_file(const std::string& relative) {
  auto bytes = read_file(std::string(CONFER_SOURCE_DIR) + "/" + relative);
  REQUIRE_MESSAGE(bytes.ok(), relative);
  return std::string(bytes->begin(), bytes->end());
}

std::string help_of(const std::string& bin, std::vector<std::string> args) {
  args.push_back("--help");
  test::SpawnOptions o;
  o.capture = true;
  o.stdin_text = "";
  auto r = test::Process(bin, args, o).wait();
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

// "--flag" names opening a help text's option lines ("  -m,--model TEXT ..."). --help
// and the global --color (documented once, in confer(1)) are left out.
std::set<std::string> flags_in(const std::string& help) {
  std::set<std::string> out;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    size_t at = line.find_first_not_of(' ');
    if (at == std::string::npos || at < 2) continue;
    if (line.compare(at, 1, "-") == 0 && line.compare(at, 2, "--") != 0) {  // "-m,--model"
      size_t comma = line.find(',', at);
      if (comma == std::string::npos) continue;
      at = comma + 1;
    }
    if (line.compare(at, 2, "--") != 0) continue;
    size_t end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", at + 2);
    out.insert(line.substr(at, end == std::string::npos ? std::string::npos : end - at));
  }
  out.erase("--help");
  out.erase("--color");
  return out;
}

// The subcommand names listed under "Subcommands:".
std::vector<std::string> subcommands_in(const std::string& help) {
  std::vector<std::string> out;
  size_t at = help.find("Subcommands:");
  if (at == std::string::npos) return out;
  std::istringstream lines(help.substr(at));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
    out.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

// In a man page, "--flag" is written \-\-flag.
bool in_man(const std::string& page, const std::string& flag) {
  std::string roff;
  for (char c : flag) roff += c == '-' ? std::string("\\-") : std::string(1, c);
  return page.find(roff) != std::string::npos || page.find(flag) != std::string::npos;
}

void check_documented(const std::string& what, const std::set<std::string>& flags, const std::string& man,
                      const std::vector<std::pair<std::string, std::string>>& completions) {
  for (const auto& f : flags) {
    CAPTURE(what);
    CAPTURE(f);
    CHECK_MESSAGE(in_man(man, f), what << ": " << f << " is not in its man page");
    for (const auto& [name, text] : completions) {
      // fish writes long options without their dashes (-l flag).
      bool found = text.find(f) != std::string::npos ||
                   (name.find("fish") != std::string::npos && text.find("-l " + f.substr(2)) != std::string::npos);
      CHECK_MESSAGE(found, what << ": " << f << " is not in " << name);
    }
  }
}

}  // namespace

TEST_CASE("docs: every confer command and flag is in the completions and the man pages") {
  std::vector<std::pair<std::string, std::string>> completions;
  for (const char* f : {"completions/confer.bash", "completions/_confer", "completions/confer.fish"})
    completions.emplace_back(f, source_file(f));
  std::string top = help_of(CONFER_BIN, {});
  std::vector<std::string> commands = subcommands_in(top);
  REQUIRE(commands.size() >= 8);
  std::set<std::string> global = flags_in(top.substr(0, top.find("Subcommands:")));
  global.insert("--color");
  check_documented("confer", global, source_file("man/confer.1"), completions);
  std::map<std::string, std::string> page_of = {{"logout", "login"}, {"status", "login"}};
  for (const auto& cmd : commands) {
    if (cmd == "help") continue;
    for (const auto& [name, text] : completions) CHECK_MESSAGE(text.find(cmd) != std::string::npos, cmd << " not in " << name);
    std::string page_name = page_of.count(cmd) ? page_of[cmd] : cmd;
    std::string man = "man/confer-" + page_name + ".1";
    std::string page = std::ifstream(std::string(CONFER_SOURCE_DIR) + "/" + man).good() ? source_file(man)
                                                                                        : source_file("man/confer.1");
    CHECK_MESSAGE(in_man(source_file("man/confer.1"), cmd), cmd << " not in confer(1)");
    std::string help = help_of(CONFER_BIN, {cmd});
    check_documented("confer " + cmd, flags_in(help.substr(0, help.find("Subcommands:"))), page, completions);
    for (const auto& sub : subcommands_in(help)) {
      for (const auto& [name, text] : completions) CHECK_MESSAGE(text.find(sub) != std::string::npos, sub << " not in " << name);
      check_documented("confer " + cmd + " " + sub, flags_in(help_of(CONFER_BIN, {cmd, sub})), page, completions);
    }
  }
}

TEST_CASE("docs: every confer-server flag is in its completions and its man page") {
  std::vector<std::pair<std::string, std::string>> completions;
  for (const char* f : {"completions/confer-server.bash", "completions/_confer-server", "completions/confer-server.fish"})
    completions.emplace_back(f, source_file(f));
  std::set<std::string> flags = flags_in(help_of(CONFER_SERVER_BIN, {}));
  REQUIRE(flags.count("--upstream") == 1);
  check_documented("confer-server", flags, source_file("man/confer-server.1"), completions);
}
