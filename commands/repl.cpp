// The REPL of confer chat: line editing, slash commands matched exactly (with "did you
// mean" for the rest), each turn saved as it completes, and a reconnect that re-verifies
// the server when it closed the connection (idle timeout, restart).
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "commands/chat.hpp"
#include "commands/common.hpp"
#include "commands/line_editor.hpp"
#include "core/bytes.hpp"
#include "core/time.hpp"

namespace confer::cli {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

class Repl {
 public:
  Repl(client::AttestedSession session, const ChatOptions& o, Settings s, ChatHistory& saved, Reconnect reconnect)
      : session_(std::move(session)), o_(o), s_(std::move(s)), saved_(saved), reconnect_(std::move(reconnect)) {
    declare_commands();
  }
  int run();

 private:
  struct Command {
    std::string name, args, help;
    bool takes_argument;
    std::function<void(const std::string& arg)> run;
  };
  void declare_commands();
  void command(const std::string& line);
  std::optional<std::string> read_prompt(const std::string& line);
  void exchange(const std::string& prompt);
  Result<Answer> ask_or_reconnect();
  std::vector<std::string> complete(const std::string& before) const;
  std::vector<std::string> names() const;
  void seed_line_history();

  void help() const;
  void new_conversation();
  void model(const std::string& arg);
  void system_prompt(const std::string& arg);
  void retry();
  void history();
  void copy() const;
  void save(const std::string& file) const;
  void verify() const;

  client::AttestedSession session_;
  const ChatOptions& o_;
  Settings s_;
  ChatHistory& saved_;
  Reconnect reconnect_;
  std::vector<Command> commands_;
  std::vector<Message> messages_;
  std::unique_ptr<LineEditor> editor_;
  std::vector<std::string> models_;  // the server's, for Tab after /model
  std::optional<int> exit_;
};

void Repl::declare_commands() {
  auto no_arg = [](auto f) { return [f](const std::string&) { f(); }; };
  commands_ = {
      {"/help", "", "this list", false, no_arg([this] { help(); })},
      {"/new", "", "start a new conversation", false, no_arg([this] { new_conversation(); })},
      {"/model", "[NAME|-]", "show the model, set it, or - for the server's default", true,
       [this](const std::string& a) { model(a); }},
      {"/system", "[TEXT|-]", "show the system prompt, set it, or - to clear it", true,
       [this](const std::string& a) { system_prompt(a); }},
      {"/edit", "", "write the next message in $VISUAL or $EDITOR", false, no_arg([this] {
         auto text = edit_in_editor();
         if (!text) return print_error(text.error().message);
         if (text->find_first_not_of(" \t\n") != std::string::npos) exchange(*text);
       })},
      {"/retry", "", "ask the last message again", false, no_arg([this] { retry(); })},
      {"/history", "", "the saved conversations (confer history for more)", false, no_arg([this] { history(); })},
      {"/copy", "", "copy the last answer to the clipboard (OSC 52)", false, no_arg([this] { copy(); })},
      {"/save", "FILE", "write this conversation to FILE as Markdown", true, [this](const std::string& a) { save(a); }},
      {"/verify", "", "the full check list of this server's attestation", false, no_arg([this] { verify(); })},
      {"/exit", "", "leave (also /quit, Ctrl-D)", false, no_arg([this] { exit_ = kExitOk; })},
      {"/quit", "", "", false, no_arg([this] { exit_ = kExitOk; })},
  };
}

std::vector<std::string> Repl::names() const {
  std::vector<std::string> n;
  for (const auto& c : commands_) n.push_back(c.name);
  return n;
}

void Repl::help() const {
  std::string out = "commands:\n";
  for (const auto& c : commands_)
    if (!c.help.empty()) out += fmt::format("  {:<9} {:<9} {}\n", c.name, c.args, c.help);
  out += "  \"\"\"                 start and end a message of several lines\n"
         "keys: Up/Down recall, Ctrl-R searches, Tab completes, Ctrl-L clears, Ctrl-C stops an answer, Ctrl-D leaves\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

void Repl::command(const std::string& line) {
  size_t space = line.find(' ');
  std::string name = line.substr(0, space);
  std::string arg = space == std::string::npos ? "" : trim(line.substr(space + 1));
  for (const auto& c : commands_) {
    if (c.name != name) continue;
    if (!c.takes_argument && !arg.empty())
      return print_error(fmt::format("{} takes no argument, saw '{}'", name, arg), {"/help lists the commands"});
    return c.run(arg);
  }
  if (auto near = did_you_mean(name, names()))
    return print_error(fmt::format("unknown command '{}'", name), {fmt::format("did you mean {}? (/help lists them)", *near)});
  print_error(fmt::format("unknown command '{}'", name), {"/help lists the commands; start a message with // to send a slash"});
}

void Repl::new_conversation() {
  messages_.clear();
  if (!saved_.enabled()) return print_note("new conversation");
  if (auto r = saved_.start_new(); !r) return print_error(r.error().message);
  announce_conversation(saved_, o_);
}

void Repl::model(const std::string& arg) {
  if (arg == "-") s_.model.clear();
  else if (!arg.empty()) s_.model = arg;
  print_note(s_.model.empty() ? "model: the server's default" : "model: " + s_.model);
}

void Repl::system_prompt(const std::string& arg) {
  if (arg == "-") s_.system.clear();
  else if (!arg.empty()) s_.system = arg;
  if (s_.system.empty()) print_note("no system prompt");
  else if (arg.empty()) print_note("system prompt: " + s_.system);
  else print_note("system prompt set");
}

void Repl::retry() {
  if (messages_.size() < 2 || messages_.back().role != "assistant")
    return print_error("nothing to retry yet: /retry asks the last message again once it has an answer");
  messages_.pop_back();
  std::string prompt = messages_.back().content;
  messages_.pop_back();
  exchange(prompt);
}

void Repl::history() {
  auto all = saved_.conversations();
  if (!all) return print_error(all.error().message);
  if (all->empty()) return print_note(saved_.enabled() ? "no saved conversations yet" : "history is off in this chat");
  std::string out;
  size_t shown = 0;
  for (const auto& c : *all) {
    if (++shown > 10) break;
    out += fmt::format("{} {:<16}  {}  {:>3} turn(s)  {}\n", c.id == saved_.conversation_id() ? '*' : ' ', c.id,
                       format_local_minutes(c.updated), c.turns, c.title);
  }
  if (all->size() > 10) out += fmt::format("  ... and {} more: confer history\n", all->size() - 10);
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

void Repl::copy() const {
  const Message* last = nullptr;
  for (const auto& m : messages_)
    if (m.role == "assistant") last = &m;
  if (last == nullptr) return print_error("no answer to copy yet");
  if (isatty(STDOUT_FILENO) != 1) return print_error("/copy needs a terminal: it asks the terminal to set the clipboard");
  std::string b64 = to_base64(ByteView(reinterpret_cast<const uint8_t*>(last->content.data()), last->content.size()));
  std::printf("\x1b]52;c;%s\x07", b64.c_str());
  std::fflush(stdout);
  print_note(fmt::format("copied {} bytes (terminals without OSC 52 ignore it)", last->content.size()));
}

void Repl::save(const std::string& file) const {
  if (file.empty()) return print_error("/save: expected a FILE name");
  if (messages_.empty()) return print_error("/save: nothing to save yet");
  std::string md;
  for (const auto& m : messages_) md += fmt::format("## {}\n\n{}\n\n", m.role == "user" ? "You" : "Assistant", m.content);
  if (::access(file.c_str(), F_OK) == 0) return print_error(fmt::format("/save: {} exists; choose another name", file));
  auto w = write_file_atomic(file, ByteView(reinterpret_cast<const uint8_t*>(md.data()), md.size()), 0600);
  if (!w) return print_error("/save: " + w.error().message);
  print_note(fmt::format("saved {} message(s) to {} (plaintext, 0600)", messages_.size(), file));
}

void Repl::verify() const {
  print_verification(session_.verification, "message 2 of the Noise handshake");
  print_note(client::session_summary(session_));
}

std::vector<std::string> Repl::complete(const std::string& before) const {
  std::vector<std::string> out;
  if (before.empty() || before.front() != '/') return out;
  size_t space = before.find(' ');
  if (space == std::string::npos) {
    for (const auto& c : commands_)
      if (c.name.rfind(before, 0) == 0 && !c.help.empty()) out.push_back(c.name);
    return out;
  }
  if (before.substr(0, space) == "/model") {
    std::string word = before.substr(space + 1);
    std::vector<std::string> known = models_;
    known.insert(known.end(), {s_.model, o_.model});
    for (const std::string& m : known)
      if (!m.empty() && m.rfind(word, 0) == 0 && std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

// Sends messages_; when the server closed the connection before answering, reconnects
// (verifying it again) and sends once more.
Result<Answer> Repl::ask_or_reconnect() {
  bool started = false;
  auto answer = ask(*session_.channel, o_, s_, messages_, &started);
  if (answer || answer.error().code != Errc::network || started) return answer;
  std::string why = answer.error().message;
  CONFER_TRY(client::AttestedSession fresh, reconnect_());
  session_ = std::move(fresh);
  print_note(fmt::format("the connection had closed ({}); reconnected and verified again: {}", why,
                         client::session_summary(session_)));
  return ask(*session_.channel, o_, s_, messages_);
}

void Repl::exchange(const std::string& prompt) {
  messages_.push_back({"user", prompt});
  if (editor_) editor_->remember(prompt);
  auto answer = ask_or_reconnect();
  if (!answer) {
    messages_.pop_back();
    print_error(answer.error().message, {"your message was not answered; send it again, or /exit"});
    if (answer.error().code == Errc::attestation) exit_ = kExitAttestation;
    return;
  }
  end_line(answer->text, o_);
  if (answer->outcome == Outcome::interrupted) print_note("stopped");
  messages_.push_back({"assistant", answer->text});
  if (auto kept = keep_turn(saved_, o_, s_, prompt, answer->text, session_); !kept) print_error(kept.error().message);
}

// A line that starts a message: itself, or the lines up to the closing """.
std::optional<std::string> Repl::read_prompt(const std::string& line) {
  if (trim(line) != "\"\"\"") return line.rfind("//", 0) == 0 ? line.substr(1) : line;
  std::string prompt, more;
  for (;;) {
    auto r = editor_->read("... ", more);
    if (r == LineEditor::Read::interrupted) {
      g_chat_interrupted = false;
      print_note("message dropped");
      return std::nullopt;
    }
    if (r == LineEditor::Read::end || trim(more) == "\"\"\"") break;
    prompt += more + "\n";
  }
  return prompt;
}

void Repl::seed_line_history() {
  auto prompts = saved_.recent_prompts(5);
  if (!prompts) return print_warning("earlier prompts could not be read for Up/Down: " + prompts.error().message);
  for (const auto& p : *prompts) editor_->remember(p);
}

int Repl::run() {
  for (const auto& [role, content] : saved_.earlier()) messages_.push_back({role, content});
  editor_ = LineEditor::open([this](const std::string& before) { return complete(before); });
  seed_line_history();
  if (auto listed = server_models(*session_.channel, 5)) models_ = std::move(*listed);
  std::fprintf(stderr, "confer: /verify shows every check; type a message; \"\"\" for several lines; /help for "
                       "commands; Ctrl-C stops an answer, Ctrl-D leaves\n");
  while (!exit_) {
    std::string line;
    auto r = editor_->read("> ", line);
    if (r == LineEditor::Read::interrupted) {
      g_chat_interrupted = false;
      continue;
    }
    if (r == LineEditor::Read::end) {
      std::fputc('\n', stdout);
      break;
    }
    if (line.size() > 1 && line[0] == '/' && line[1] != '/') {
      command(trim(line));
      continue;
    }
    auto prompt = read_prompt(line);
    if (!prompt || prompt->find_first_not_of(" \t\n") == std::string::npos) continue;
    exchange(*prompt);
  }
  return exit_.value_or(kExitOk);
}

}  // namespace

int repl(client::AttestedSession session, const ChatOptions& o, Settings s, ChatHistory& saved, Reconnect reconnect) {
  Repl r(std::move(session), o, std::move(s), saved, std::move(reconnect));
  return r.run();
}

}  // namespace confer::cli
