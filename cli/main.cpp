// confer: one binary, one table of commands.
#include <openssl/crypto.h>
#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/common.hpp"
#include "core/exception.hpp"
#include "core/hardening.hpp"
#include "dev/fake_authenticator.hpp"

namespace confer::cli {
namespace {

// Adding a command is one file in commands/ and one row here.
constexpr CommandSpec kCommands[] = {
    {"chat", "Chat through the attested channel (one-shot or a REPL)", setup_chat},
    {"login", "Open your history with your security key (--register creates the account)", setup_login},
    {"logout", "Lock the history: drop the unlocked session", setup_logout},
    {"status", "Whether the history is unlocked, until when, and with which key", setup_status},
    {"keys", "The ways into your history: list, add, remove, rotate", setup_keys},
    {"history", "Your saved conversations: list, show, rename, rm, search", setup_history},
    {"models", "The models the attested server offers", setup_models},
    {"export", "Your history decrypted, as JSON, JSON Lines or Markdown, with each answer's receipt", setup_export},
    {"import", "Read an archive of confer export --encrypted into this machine's history", setup_import},
    {"sync", "The same history on every machine: pull and push through the attested server", setup_sync},
    {"verify-attestation", "Verify a confidential VM's attestation, every check spelled out",
     setup_verify_attestation},
    {"dev-evidence", "Write development SEV-SNP evidence signed by a local test chain (not AMD's)",
     setup_dev_evidence},
    {"paths", "Print the config, data and cache directories", setup_paths},
};

std::string version_text() {
  return fmt::format(
      "confer {}\n  OpenSSL {}\n  libcurl {}\n  fmt {}.{}.{}\n  nlohmann_json {}.{}.{}\n  CLI11 {}\n",
      CONFER_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING), curl_version_info(CURLVERSION_NOW)->version,
      FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100, NLOHMANN_JSON_VERSION_MAJOR,
      NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH, CLI11_VERSION);
}

// " chat" or " keys list": the commands selected on the command line.
std::string command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* a = &app; !a->get_subcommands().empty();) {
    a = a->get_subcommands().front();
    path += " " + a->get_name();
  }
  return path;
}

// Unknown commands and options, in the order typed, each with the nearest real one.
int unexpected_arguments(CLI::App& app, const CLI::ExtrasError& e) {
  const CLI::App* where = &app;
  std::vector<std::string> extras = app.remaining();
  while (!where->get_subcommands().empty()) {
    where = where->get_subcommands().front();
    for (const auto& x : where->remaining()) extras.push_back(x);
  }
  if (extras.empty()) {
    print_error(e.what(), {"run 'confer help" + command_path(app) + "' for usage"});
    return kExitUsage;
  }
  std::string path = "confer" + command_path(app);
  std::vector<std::string> options, commands;
  for (const CLI::Option* opt : where->get_options()) {
    for (const auto& l : opt->get_lnames()) options.push_back("--" + l);
    for (const auto& sn : opt->get_snames()) options.push_back("-" + sn);
  }
  for (const CLI::App* sub : where->get_subcommands({})) commands.push_back(sub->get_name());
  for (const auto& x : extras) {
    bool option = !x.empty() && x[0] == '-';
    std::string flag = option ? x.substr(0, x.find('=')) : x;
    std::string what = option ? fmt::format("{}: unknown option '{}'", path, flag)
                       : commands.empty() ? fmt::format("{}: unexpected argument '{}'", path, x)
                                          : fmt::format("{}: unknown command '{}'", path, x);
    auto near = did_you_mean(flag, option ? options : commands);
    if (near)
      print_error(what, {fmt::format("did you mean {}? ('confer help{}' lists them)", *near, command_path(app))});
    else
      print_error(what, {"run 'confer help" + command_path(app) + "' for usage"});
  }
  return kExitUsage;
}

int run(int argc, char** argv) {
  CLI::App app{"confer: an end-to-end encrypted AI assistant whose client verifies the confidential VM before any prompt leaves the machine"};
  app.name("confer");
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and the libraries built with");
  std::string color = "auto";
  auto add_color = [&color](CLI::App& a) {
    a.add_option("--color", color, "Colour: auto, always or never (NO_COLOR is honoured)")
        ->check(CLI::IsMember({"auto", "always", "never"}));
  };
  add_color(app);

  std::vector<std::pair<CLI::App*, Handler>> handlers;
  for (const auto& cmd : kCommands) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    add_color(*sub);
    handlers.emplace_back(sub, cmd.setup(*sub));
  }
  CLI::App* help = app.add_subcommand("help", "Show help for confer or a command");
  std::string help_topic;
  help->add_option("command", help_topic, "The command to describe");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    // Help for the innermost command asked about, its usage line naming its parents.
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ExtrasError& e) {
    return unexpected_arguments(app, e);
  } catch (const CLI::ParseError& e) {
    print_error(e.what(), {"run 'confer help" + command_path(app) + "' for usage"});
    return kExitUsage;
  }
  set_color_mode(color == "always" ? ColorMode::always
                 : color == "never" ? ColorMode::never
                                    : ColorMode::auto_);
  if (show_version) {
    std::fputs(version_text().c_str(), stdout);
    return kExitOk;
  }
  if (help->parsed()) {
    if (help_topic.empty()) {
      std::fputs(app.help().c_str(), stdout);
      return kExitOk;
    }
    for (auto& [sub, handler] : handlers) {
      if (sub->get_name() == help_topic) {
        std::fputs(sub->help("confer").c_str(), stdout);
        return kExitOk;
      }
    }
    print_error(fmt::format("help: expected a command name, saw '{}'", help_topic),
                {"run 'confer help' for the list of commands"});
    return kExitUsage;
  }
  for (auto& [sub, handler] : handlers)
    if (sub->parsed()) return handler();
  std::fputs(app.help().c_str(), stderr);
  return kExitUsage;
}

}  // namespace
}  // namespace confer::cli

int main(int argc, char** argv) {
  // Keys and prompts live in this process: no core file, no ptrace by others.
  if (auto hardened = confer::harden_process(); !hardened)
    confer::cli::print_warning("cannot harden the process: " + hardened.error().message);
  // Tests reach the development fake security key as --device dev-fake:STATE.json; it
  // protects nothing, so it exists only when asked for by name in the environment.
  if (const char* dev = std::getenv("CONFER_DEV_AUTHENTICATOR"); dev && std::string(dev) == "1")
    confer::keys::fido::register_device_scheme(confer::dev::kFakeDevicePrefix, confer::dev::fake_authenticator_io());
  try {
    return confer::cli::run(argc, argv);
  } catch (...) {
    confer::cli::print_error("internal: " + confer::current_exception_text());
  }
  return confer::cli::kExitError;
}
