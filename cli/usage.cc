#include "cli/usage.h"

#include <cstdio>
#include <memory>
#include <sstream>

#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

// Help lines fit a terminal this wide.
constexpr size_t kHelpWidth = 90;
// Where descriptions start (flag names are at most ~32 columns).
constexpr size_t kNameColumn = 34;

// `text` with each of its lines word-wrapped to `width` columns, except
// indented ones (examples, which must stay one command each).
std::string Wrap(const std::string& text, size_t width) {
  std::string out;
  std::istringstream lines(text);
  std::string line;
  bool first_line = true;
  while (std::getline(lines, line)) {
    if (!first_line) out += '\n';
    first_line = false;
    if (line.rfind("  ", 0) == 0) {
      out += line;
      continue;
    }
    std::istringstream words(line);
    std::string word;
    size_t column = 0;
    while (words >> word) {
      if (column > 0 && column + 1 + word.size() > width) {
        out += '\n';
        column = 0;
      } else if (column > 0) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
    }
  }
  if (!text.empty() && text.back() == '\n') out += '\n';
  return out;
}

// CLI11's formatter, with descriptions word-wrapped (it does not wrap).
class WrappingFormatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App* app) const override {
    return Wrap(CLI::Formatter::make_description(app), kHelpWidth);
  }
  std::string make_option_desc(const CLI::Option* option) const override {
    return Wrap(CLI::Formatter::make_option_desc(option), kHelpWidth - get_column_width());
  }
  std::string make_footer(const CLI::App* app) const override {
    return Wrap(CLI::Formatter::make_footer(app), kHelpWidth);
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             Wrap(sub->get_description(), kHelpWidth - get_column_width()),
                             get_column_width());
    return out.str();
  }
};

// The parsed command itself (the deepest subcommand given).
const CLI::App& ParsedCommand(const CLI::App& gorl) {
  const CLI::App* app = &gorl;
  while (!app->get_subcommands().empty()) app = app->get_subcommands().front();
  return *app;
}

// Every command below `app` that takes flags, with its path.
void CollectCommands(const CLI::App& app, const std::string& path,
                     std::vector<std::pair<std::string, const CLI::App*>>& out) {
  out.emplace_back(path, &app);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    CollectCommands(*sub, path + " " + sub->get_name(), out);
  }
}

// "gorl train, gorl learner": the commands that have `flag`.
std::string CommandsWithFlag(const CLI::App& gorl, const std::string& flag) {
  std::vector<std::pair<std::string, const CLI::App*>> commands;
  CollectCommands(gorl, gorl.get_name(), commands);
  std::string names;
  for (const auto& [path, app] : commands) {
    if (app->get_option_no_throw(flag) == nullptr) continue;
    names += (names.empty() ? "" : ", ") + path;
  }
  return names;
}

std::string HelpText(const CLI::App& app, const std::string& path) {
  // Not app.help(): that shows the help of whatever subcommand was parsed
  // (here: `help` itself).
  return app.get_formatter()->make_help(&app, path, CLI::AppFormatMode::Normal);
}

}  // namespace

void ConfigureHelp(CLI::App& gorl) {
  gorl.option_defaults()->always_capture_default();
  gorl.allow_extras();
  gorl.require_subcommand(0, 1);  // `gorl train tasks`: "tasks" is train's word
  gorl.group("Commands");
  auto formatter = std::make_shared<WrappingFormatter>();
  formatter->label("SUBCOMMAND", "COMMAND");
  formatter->label("Positionals", "Arguments");
  formatter->column_width(kNameColumn);
  gorl.formatter(formatter);
}

std::string CommandPath(const CLI::App& gorl) {
  std::string path = gorl.get_name();
  for (const CLI::App* app = &gorl; !app->get_subcommands().empty();) {
    app = app->get_subcommands().front();
    path += " " + app->get_name();
  }
  return path;
}

int ReportUsageError(const CLI::App& gorl, const std::string& message) {
  const std::string path = CommandPath(gorl);
  std::fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", path.c_str(), message.c_str(),
               path.c_str());
  return runtime::kExitUsage;
}

int CheckLeftovers(const CLI::App& gorl) {
  const std::vector<std::string> left = gorl.remaining(/*recurse=*/true);
  if (left.empty()) return runtime::kExitOk;
  // A flag explains more than the value after it that was left too.
  std::string word = left.front();
  for (const std::string& arg : left) {
    if (arg.size() > 1 && arg[0] == '-') {
      word = arg;
      break;
    }
  }
  if (word.size() > 1 && word[0] == '-') {
    const std::string flag = word.substr(0, word.find('='));
    const std::string owners = CommandsWithFlag(gorl, flag);
    return ReportUsageError(
        gorl, "unknown flag " + flag + (owners.empty() ? "" : " (a flag of " + owners + ")"));
  }
  const bool group =
      !ParsedCommand(gorl).get_subcommands([](const CLI::App*) { return true; }).empty();
  return ReportUsageError(gorl,
                          (group ? "unknown command '" : "unexpected argument '") + word + "'");
}

int PrintHelpFor(const CLI::App& gorl, const std::vector<std::string>& topic) {
  const CLI::App* app = &gorl;
  std::string path = gorl.get_name();
  for (const std::string& name : topic) {
    const std::vector<const CLI::App*> found =
        app->get_subcommands([&](const CLI::App* sub) { return sub->get_name() == name; });
    if (found.empty()) {
      std::fprintf(stderr, "gorl help: unknown command '%s'\nRun 'gorl help' for the commands.\n",
                   (path + " " + name).substr(gorl.get_name().size() + 1).c_str());
      return runtime::kExitUsage;
    }
    app = found.front();
    path += " " + name;
  }
  std::printf("%s", HelpText(*app, path).c_str());
  return runtime::kExitOk;
}

}  // namespace gorl::cli
