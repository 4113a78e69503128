#include "tests/e2e/run_binary.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace cachestress::e2e {
namespace {

using Clock = std::chrono::steady_clock;

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is available; returns false at end of file.
bool drain(int fd, std::string& into) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
}

// Keeps a copy of the run's --out report for the schema test (report_schema_test.py), which
// validates every report the e2e tests wrote. Best effort: a test's own checks come first.
void collect_report([[maybe_unused]] const RunSpec& spec) {
#ifdef CACHESTRESS_E2E_REPORTS_DIR
  namespace fs = std::filesystem;
  static int collected = 0;
  for (std::size_t i = 0; i + 1 < spec.args.size(); ++i) {
    if (spec.args[i] != "--out") continue;
    fs::path report = spec.args[i + 1];
    if (report.is_relative() && !spec.cwd.empty()) report = fs::path(spec.cwd) / report;
    std::error_code ec;
    if (!fs::is_regular_file(report, ec)) return;
    fs::create_directories(CACHESTRESS_E2E_REPORTS_DIR, ec);
    const auto copy = fs::path(CACHESTRESS_E2E_REPORTS_DIR) /
                      (std::to_string(::getpid()) + "-" + std::to_string(collected++) + ".json");
    fs::copy_file(report, copy, fs::copy_options::overwrite_existing, ec);
  }
#endif
}

}  // namespace

RunResult run_binary(const RunSpec& spec) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<std::string> argv_storage{spec.program.empty() ? std::string(CACHESTRESS_BINARY) : spec.program};
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) ::_exit(126);
    for (const auto& [key, value] : spec.env) ::setenv(key.c_str(), value.c_str(), 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Feed stdin (small texts fit the pipe buffer; big ones are written as space allows).
  std::size_t fed = 0;
  set_nonblocking(in_pipe[1]);
  set_nonblocking(out_pipe[0]);
  set_nonblocking(err_pipe[0]);
  int stdin_fd = in_pipe[1];
  ::signal(SIGPIPE, SIG_IGN);

  RunResult result;
  const auto started = Clock::now();
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    if (stdin_fd >= 0) {
      while (fed < spec.stdin_text.size()) {
        ssize_t n = ::write(stdin_fd, spec.stdin_text.data() + fed, spec.stdin_text.size() - fed);
        if (n <= 0) break;
        fed += static_cast<std::size_t>(n);
      }
      if (fed >= spec.stdin_text.size() || errno == EPIPE) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
    pollfd fds[3];
    nfds_t count = 0;
    if (out_open) fds[count++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[count++] = {err_pipe[0], POLLIN, 0};
    if (stdin_fd >= 0) fds[count++] = {stdin_fd, POLLOUT, 0};
    ::poll(fds, count, 20);
    if (out_open) out_open = drain(out_pipe[0], result.out);
    if (err_open) err_open = drain(err_pipe[0], result.err);

    const auto elapsed = Clock::now() - started;
    if (spec.signal != 0 && !result.signalled) {
      const bool due = spec.signal_when.empty() ? elapsed >= spec.signal_after
                                                : result.err.find(spec.signal_when) != std::string::npos;
      if (due) {
        ::kill(pid, spec.signal);
        if (spec.second_signal != 0) ::kill(pid, spec.second_signal);
        result.signalled = true;
      }
    }
    if (elapsed > spec.timeout && !result.timed_out) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
    }
  }
  if (stdin_fd >= 0) ::close(stdin_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  collect_report(spec);
  return result;
}

RunResult run_binary(std::vector<std::string> args) {
  RunSpec spec;
  spec.args = std::move(args);
  return run_binary(spec);
}

RunResult run_in(const TempDir& tmp, std::vector<std::string> args) {
  RunSpec spec;
  spec.args = std::move(args);
  spec.env["TMPDIR"] = tmp.path();
  spec.cwd = tmp.path();
  return run_binary(spec);
}

JsonRun run_json(std::vector<std::string> args, std::chrono::seconds timeout) {
  TempDir tmp;
  RunSpec spec;
  spec.args = std::move(args);
  spec.args.insert(spec.args.end(), {"--format", "json", "-q"});
  spec.env["TMPDIR"] = tmp.path();
  spec.cwd = tmp.path();
  spec.timeout = timeout;
  auto result = run_binary(spec);
  INFO("args " << (spec.args.size() > 1 ? spec.args[1] : std::string()) << " stderr: " << result.err);
  REQUIRE((result.exit_code == 0 || result.exit_code == 1));
  CHECK(list_dir(tmp.path()).empty());
  return {result.exit_code, parse_json(result.out), result.err};
}

nlohmann::json parse_json(const std::string& text) {
  INFO("JSON text: " << text.substr(0, 2000));
  auto doc = nlohmann::json::parse(text, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

nlohmann::json read_json_file(const std::string& path) {
  INFO("file " << path);
  REQUIRE(std::filesystem::exists(path));
  return parse_json(read_text(path));
}

std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> entries;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    std::ostringstream line;
    line << std::oct << st.st_mode << std::dec << " " << st.st_size << " " << st.st_mtim.tv_sec << "."
         << st.st_mtim.tv_nsec << " nlink " << st.st_nlink;
    if (S_ISREG(st.st_mode)) line << " " << read_text(it->path());
    if (S_ISLNK(st.st_mode)) line << " -> " << std::filesystem::read_symlink(it->path(), ec).string();
    entries[std::filesystem::relative(it->path(), dir).string()] = line.str();
  }
  return entries;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string write_handoff_scenario(const TempDir& dir) {
  const std::string path = dir / "handoff.toml";
  write_text(path,
             "description = \"one-hop handoff\"\n[run]\nsemantics = \"buildah\"\nisolation = \"shared\"\n"
             "[[build]]\nname = \"handoff\"\n[[build.step]]\n"
             "mount = { target = \"/var/cache/build\", sharing = \"locked\" }\n"
             "ops = [ { op = \"write\", file = \"index\", value = \"index\", size = 64 }, "
             "{ op = \"read\", file = \"index\", expect = \"own\" } ]\n");
  return path;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string source_path(const std::string& relative) { return std::string(CACHESTRESS_SOURCE_DIR) + "/" + relative; }

int live_children_of(int pid) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_text(entry.path().string() + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(close_paren + 2));
    char state = 0;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid == pid) ++count;
  }
  return count;
}

}  // namespace cachestress::e2e

namespace cachestress::e2e {

void check_flat_resources(const nlohmann::json& report, double warm_up_s, double tolerance, double fd_slack, bool check_rss) {
  std::vector<const nlohmann::json*> samples;
  const auto& intervals = report["cells"][0]["intervals"];
  // The last sample is taken after the run ended (builds gone): leave it out.
  for (std::size_t i = 0; i + 1 < intervals.size(); ++i) {
    if (intervals[i]["t_s"].get<double>() >= warm_up_s) samples.push_back(&intervals[i]);
  }
  REQUIRE(samples.size() >= 8);
  const std::size_t quarter = samples.size() / 4;
  for (const char* field : {"open_fds", "threads", "rss_kb"}) {
    if (!check_rss && std::string(field) == "rss_kb") continue;
    double early = 0, late = 0;
    for (std::size_t i = 0; i < quarter; ++i) early += (*samples[i])[field].get<double>();
    for (std::size_t i = samples.size() - quarter; i < samples.size(); ++i) late += (*samples[i])[field].get<double>();
    early /= static_cast<double>(quarter);
    late /= static_cast<double>(quarter);
    const double slack = std::string(field) == "open_fds" ? fd_slack : 0;
    INFO(field << ": early mean " << early << ", late mean " << late);
    CHECK(late <= early * (1 + tolerance) + slack);
  }
}

}  // namespace cachestress::e2e
