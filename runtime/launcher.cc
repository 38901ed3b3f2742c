#include "runtime/launcher.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_line.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "learner/training_loop.h"
#include "runtime/certificates.h"
#include "runtime/exit_codes.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/progress_report.h"
#include "runtime/role_lines.h"
#include "runtime/run_directory.h"
#include "runtime/shutdown_signals.h"
#include "runtime/status_line.h"
#include "runtime/subprocess.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM to SIGKILL.
constexpr std::chrono::seconds kGrace(15);
// Restarts per refiner / actor slot before the launcher gives up on it.
constexpr int kMaxRestarts = 3;

// A private directory for the roles' Unix sockets, or "" when none fits (a
// socket path is limited to sizeof(sun_path)); the roles then use TCP on
// loopback.
std::string MakeSocketDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/gorl-XXXXXX");
  if (dir.size() + sizeof("/refiner.sock") > sizeof(sockaddr_un::sun_path)) return "";
  if (mkdtemp(dir.data()) == nullptr) return "";
  return dir;
}

// One child slot. Move-only (it owns the child process), so that the
// actors can live in a vector.
struct Role {
  std::string name;               // "refiner", "learner", "actor-0", ...
  std::vector<std::string> args;  // after the binary path
  std::vector<std::string> env;
  bool capture_stdout = false;
  std::unique_ptr<Child> child;
  int restarts = 0;
  bool given_up = false;
};

class Launcher {
 public:
  Launcher(const LaunchOptions& options, std::string binary)
      : options_(options), binary_(std::move(binary)), log_dir_(options.run_dir + "/logs") {}
  // Owns the children and the socket directory: one owner only.
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;
  // Every child has been stopped by then; a socket a killed one left is
  // removed with its directory.
  ~Launcher() {
    BeforeImmediateExit(nullptr);
    std::error_code ignored;
    if (!socket_dir_.empty()) std::filesystem::remove_all(socket_dir_, ignored);
  }
  int Run();

 private:
  absl::Status Start(Role& role);
  // Reads `role`'s stdout until it announces its address.
  absl::StatusOr<std::string> AwaitListening(Role& role);
  // Restarts a refiner or actor that exited, up to kMaxRestarts times.
  void Supervise(Role& role);
  void HandleLearnerLine(const std::string& line);
  void StopAll();
  std::string LogPath(const Role& role) const { return log_dir_ + "/" + role.name + ".log"; }
  std::string LogTail(const Role& role, int lines) const;
  std::vector<std::string> MetricsArgs(int offset) const;
  // TCP fallback only: credentials made for this run into <run_dir>/tls, so
  // that no listener is plaintext (Unix sockets need none: their directory
  // is private). Empty with Unix sockets.
  absl::Status MakeRunCredentials(int actors);
  std::vector<std::string> SecurityArgs(const std::string& name) const;
  std::vector<std::string> CommonArgs() const;

  const LaunchOptions& options_;
  const std::string binary_;
  const std::string log_dir_;
  std::string socket_dir_;
  std::string tls_dir_;  // "" with Unix sockets
  Role refiner_, learner_;
  std::vector<Role> actors_;
  StatusLine progress_;  // the learner's progress
};

std::vector<std::string> Launcher::MetricsArgs(int offset) const {
  if (options_.metrics_port <= 0) return {};
  return {absl::StrCat("--metrics_port=", options_.metrics_port + offset),
          "--metrics_host=127.0.0.1"};
}

std::vector<std::string> Launcher::CommonArgs() const {
  std::vector<std::string> args = {
      absl::StrCat("--config=", options_.run_dir, "/config.textproto")};
  if (!options_.assets.empty()) args.push_back(absl::StrCat("--assets=", options_.assets));
  return args;
}

absl::Status Launcher::MakeRunCredentials(int actors) {
  RunCredentialsOptions credentials;
  credentials.out_dir = options_.run_dir + "/tls";
  credentials.hosts = {"localhost", "127.0.0.1"};
  credentials.clients.clear();
  for (int i = 0; i < actors; ++i) credentials.clients.push_back(absl::StrCat("actor-", i));
  // Fresh ones on every launch (a resumed run too): they live as long as
  // the launcher's children.
  credentials.days = 30;
  credentials.force = true;
  GORL_RETURN_IF_ERROR(WriteRunCredentials(credentials));
  tls_dir_ = credentials.out_dir;
  return absl::OkStatus();
}

std::vector<std::string> Launcher::SecurityArgs(const std::string& name) const {
  if (tls_dir_.empty()) return {};
  // The token travels in a file, never in argv (visible in `ps`).
  return {absl::StrCat("--tls_ca=", tls_dir_, "/ca.pem"),
          absl::StrCat("--tls_cert=", tls_dir_, "/", name, ".pem"),
          absl::StrCat("--tls_key=", tls_dir_, "/", name, ".key"), "--mtls",
          absl::StrCat("--token_file=", tls_dir_, "/token")};
}

absl::Status Launcher::Start(Role& role) {
  ChildOptions child;
  child.argv = {binary_};
  child.executable = kThisExecutable;
  child.argv.insert(child.argv.end(), role.args.begin(), role.args.end());
  child.env = role.env;
  child.capture_stdout = role.capture_stdout;
  child.stderr_path = LogPath(role);
  absl::StatusOr<std::unique_ptr<Child>> spawned = Child::Spawn(child);
  if (!spawned.ok()) return spawned.status();
  role.child = *std::move(spawned);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Launcher::AwaitListening(Role& role) {
  const std::chrono::seconds timeout(options_.start_timeout_s);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (ShutdownSignalReceived() != 0) return absl::CancelledError("interrupted");
    std::optional<std::string> line = role.child->ReadLine(std::chrono::milliseconds(200));
    if (line.has_value()) {
      if (JsonField(*line, "event") == "listening") {
        return JsonField(*line, "address").value_or("");
      }
      continue;
    }
    if (role.child->Poll()) {
      return absl::UnavailableError(absl::StrCat(role.name, " exited with code ",
                                                 role.child->exit_code(), " before listening:\n",
                                                 LogTail(role, 15)));
    }
  }
  return absl::DeadlineExceededError(absl::StrCat(
      role.name, " did not start listening within ", timeout.count(),
      " s (a machine busy with other jobs? raise --start_timeout; see ", LogPath(role), ")"));
}

void Launcher::Supervise(Role& role) {
  if (role.given_up || role.child == nullptr || !role.child->Poll()) return;
  if (role.child->exit_code() == kExitOk) {
    role.given_up = true;  // an actor exits 0 when the learner says the run is over
    return;
  }
  if (role.restarts >= kMaxRestarts) {
    progress_.Break();
    std::fprintf(stderr, "[gorl] %s exited with code %d again; not restarting it (see %s)\n",
                 role.name.c_str(), role.child->exit_code(), LogPath(role).c_str());
    role.given_up = true;
    return;
  }
  ++role.restarts;
  progress_.Break();
  std::fprintf(stderr, "[gorl] %s exited with code %d; restarting it (%d/%d, see %s)\n",
               role.name.c_str(), role.child->exit_code(), role.restarts, kMaxRestarts,
               LogPath(role).c_str());
  const absl::Status started = Start(role);
  if (!started.ok()) {
    std::fprintf(stderr, "[gorl] cannot restart %s: %s\n", role.name.c_str(),
                 started.ToString().c_str());
    role.given_up = true;
  }
}

void Launcher::HandleLearnerLine(const std::string& line) {
  if (options_.quiet) return;
  const std::optional<learner::Progress> progress = ProgressFromLine(line);
  if (!progress.has_value()) return;
  progress_.Show(FormatProgress(*progress));
}

void Launcher::StopAll() {
  // One SIGTERM to everyone first, so that they shut down in parallel. Only
  // one: a second signal makes a role exit at once (runtime/shutdown_signals.h),
  // e.g. before the learner has written its checkpoint.
  std::vector<Role*> roles = {&learner_, &refiner_};
  for (Role& actor : actors_) roles.push_back(&actor);
  for (Role* role : roles) {
    if (role->child != nullptr) role->child->Signal(SIGTERM);
  }
  const auto deadline = Clock::now() + kGrace;
  for (Role* role : roles) {
    if (role->child == nullptr) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<Clock::duration>(deadline - Clock::now(), Clock::duration::zero()));
    if (!role->child->Wait(left)) {
      role->child->Signal(SIGKILL);
      role->child->Wait(std::chrono::seconds(10));
    }
  }
}

std::string Launcher::LogTail(const Role& role, int lines) const {
  std::ifstream in(LogPath(role));
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  return absl::StrJoin(tail, "\n");
}

int Launcher::Run() {
  if (absl::Status made = MakeDirs(log_dir_); !made.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", made.ToString().c_str());
    return kExitFailure;
  }
  auto fail = [&](const absl::Status& status) {
    progress_.Break();
    std::fprintf(stderr, "gorl train: %s\n", status.ToString().c_str());
    StopAll();
    return ShutdownSignalReceived() != 0 ? 128 + ShutdownSignalReceived() : kExitFailure;
  };
  const std::string learner_threads = absl::StrCat(options_.config.learner_threads());

  // With Unix sockets every address is known before any role starts, so
  // the refiner, the learner and the actors start at once. With TCP port 0
  // a role's address is known only once it listens, and each start (~0.3 s
  // of loading the binary) waits for the previous one.
  socket_dir_ = MakeSocketDir();
  const bool parallel = !socket_dir_.empty();
  // A second SIGINT / SIGTERM exits at once, past the destructor.
  if (parallel) {
    BeforeImmediateExit([dir = socket_dir_] {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    });
  }
  const std::string refiner_listen =
      parallel ? absl::StrCat("unix:", socket_dir_, "/refiner.sock") : "127.0.0.1:0";
  const std::string learner_listen =
      parallel ? absl::StrCat("unix:", socket_dir_, "/learner.sock") : "127.0.0.1:0";

  const int num_envs = options_.config.rollout().num_envs();
  const int count = std::max(1, std::min(options_.actors, num_envs));
  if (!parallel) {
    if (absl::Status made = MakeRunCredentials(count); !made.ok()) return fail(made);
  }

  refiner_.name = "refiner";
  refiner_.args = {"refiner", "--listen=" + refiner_listen};
  for (std::string& arg : SecurityArgs("server")) refiner_.args.push_back(std::move(arg));
  for (std::string& arg : MetricsArgs(1)) refiner_.args.push_back(std::move(arg));
  // A run larger than the refiner's default (the reference preset's 10M
  // pairs) tells its own refiner what it will send.
  if (const auto task = envs::FindTask(options_.config.task()); task.ok()) {
    const int64_t needed =
        RefineStreamBytes(options_.config, (*task)->spec.obs_size, (*task)->spec.action_size);
    if (needed > kDefaultMaxRefineBytes) {
      refiner_.args.push_back(absl::StrCat("--max_refine_bytes=", needed));
    }
  }
  refiner_.env = {"OMP_NUM_THREADS=" + learner_threads};
  refiner_.capture_stdout = true;
  if (absl::Status s = Start(refiner_); !s.ok()) return fail(s);
  absl::StatusOr<std::string> refiner_address = refiner_listen;
  if (!parallel) {
    refiner_address = AwaitListening(refiner_);
    if (!refiner_address.ok()) return fail(refiner_address.status());
    // A restarted refiner must come back where the learner looks for it.
    refiner_.args[1] = "--listen=" + *refiner_address;
  }

  // rollout.num_envs split over the actors as evenly as whole envs allow;
  // the learner starts training once all of them have joined.
  learner_.name = "learner";
  learner_.args = {"learner", "--listen=" + learner_listen, "--refiner=" + *refiner_address,
                   "--progress_json", absl::StrCat("--min_actors=", count)};
  for (std::string& arg : SecurityArgs("server")) learner_.args.push_back(std::move(arg));
  if (options_.resume) {
    learner_.args.push_back("--resume=" + options_.run_dir);
  } else {
    for (std::string& arg : CommonArgs()) learner_.args.push_back(std::move(arg));
    learner_.args.push_back("--run_dir=" + options_.run_dir);
  }
  for (std::string& arg : MetricsArgs(0)) learner_.args.push_back(std::move(arg));
  learner_.env = {"OMP_NUM_THREADS=" + learner_threads};
  learner_.capture_stdout = true;
  if (absl::Status s = Start(learner_); !s.ok()) return fail(s);
  absl::StatusOr<std::string> learner_address = learner_listen;
  if (!parallel) {
    learner_address = AwaitListening(learner_);
    if (!learner_address.ok()) return fail(learner_address.status());
  }

  actors_.resize(count);
  for (int i = 0; i < count; ++i) {
    Role& actor = actors_[i];
    actor.name = absl::StrCat("actor-", i);
    actor.args = {"actor", "--learner=" + *learner_address, "--actor_id=" + actor.name,
                  absl::StrCat("--actor_envs=", num_envs / count + (i < num_envs % count))};
    for (std::string& arg : CommonArgs()) actor.args.push_back(std::move(arg));
    for (std::string& arg : MetricsArgs(2 + i)) actor.args.push_back(std::move(arg));
    for (std::string& arg : SecurityArgs(actor.name)) actor.args.push_back(std::move(arg));
    // Inference on one actor's batch is small: one LibTorch thread each keeps
    // the actors from fighting over the cores.
    actor.env = {"OMP_NUM_THREADS=1"};
    if (absl::Status s = Start(actor); !s.ok()) return fail(s);
  }
  if (parallel) {
    // Actors wait for the learner (Join waits for it to listen); a role that
    // fails before listening is reported as in the serial start.
    if (absl::StatusOr<std::string> ready = AwaitListening(refiner_); !ready.ok()) {
      return fail(ready.status());
    }
    if (absl::StatusOr<std::string> ready = AwaitListening(learner_); !ready.ok()) {
      return fail(ready.status());
    }
  }
  if (!options_.quiet) {
    std::fprintf(stderr, "[gorl] learner %s, refiner %s, %d actor(s); logs in %s\n",
                 learner_address->c_str(), refiner_address->c_str(), count, log_dir_.c_str());
  }

  while (!learner_.child->Poll()) {
    if (ShutdownSignalReceived() != 0) {
      progress_.Break();
      std::fprintf(stderr, "[gorl] stopping every role\n");
      StopAll();
      return 128 + ShutdownSignalReceived();
    }
    if (std::optional<std::string> line = learner_.child->ReadLine(std::chrono::milliseconds(100));
        line.has_value()) {
      HandleLearnerLine(*line);
    }
    Supervise(refiner_);
    for (Role& actor : actors_) Supervise(actor);
    if (std::all_of(actors_.begin(), actors_.end(),
                    [](const Role& r) { return r.given_up && r.child->exit_code() != kExitOk; })) {
      return fail(absl::UnavailableError("every actor failed; see " + log_dir_));
    }
  }
  while (std::optional<std::string> line = learner_.child->ReadLine(std::chrono::seconds(1))) {
    HandleLearnerLine(*line);
  }
  progress_.Break();
  StopAll();
  const int code = learner_.child->exit_code();
  if (code != kExitOk) {
    std::fprintf(stderr, "gorl train: the learner exited with code %d; the end of %s:\n%s\n", code,
                 LogPath(learner_).c_str(), LogTail(learner_, 20).c_str());
    return code;
  }
  if (options_.quiet) return kExitOk;
  std::ifstream result(options_.run_dir + "/final_eval.json");
  std::stringstream text;
  text << result.rdbuf();
  std::printf("%s", text.str().c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

int DefaultActorCount() {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores - 1);
}

int RunLauncher(const LaunchOptions& options) {
  absl::StatusOr<std::string> binary = SelfExecutable();
  if (!binary.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", binary.status().ToString().c_str());
    return kExitFailure;
  }
  Launcher launcher(options, *binary);
  return launcher.Run();
}

}  // namespace gorl::runtime
