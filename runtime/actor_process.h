// The actor role's main loop over gRPC.
//
//   Join -> Policy stream (snapshots + work) -> for each new snapshot:
//     install the policy, then do its work:
//       train:   Unroll and Send, again and again, until a newer snapshot
//       collect: Collect its share, Send it in <= 4 MiB chunks
//       eval:    Evaluate its share, Send the report
//   learner gone -> rejoin with capped, jittered exponential backoff
//   id in use (ALREADY_EXISTS) -> retry like that for up to 60 s (the old
//     session of this actor's previous process may still be going), then
//     return the error
//   not a learner (UNIMPLEMENTED, e.g. the refiner's port) -> return a
//     clear error at once
//   run over (Policy stream ends OK) or Stop() -> Leave and return
//
// The RolloutWorker is rebuilt on every join with the env seed the learner
// hands out, so a rejoining actor never replays its old episodes.
#ifndef GORL_RUNTIME_ACTOR_PROCESS_H_
#define GORL_RUNTIME_ACTOR_PROCESS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "actor/rollout_worker.h"
#include "actor/step_pacer.h"
#include "common/metrics.h"
#include "envs/task_registry.h"
#include "gorl/v1/services.grpc.pb.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

struct ActorProcessOptions {
  std::string learner_address;
  // How to reach it (runtime/transport_security.h; null: plaintext).
  ClientCredentials credentials;
  // Requested id ("" lets the learner pick one).
  std::string actor_id;
  int num_envs = 1;
  int num_threads = 1;  // env stepping threads
  // Env steps per second the training unrolls may take on average (0: no
  // cap; actor/step_pacer.h). Collect and eval shares run uncapped.
  double max_env_steps_per_second = 0;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  // How long one Join waits for the learner to come up.
  std::chrono::seconds join_timeout{10};
};

class ActorProcess {
 public:
  // `factory` and `metrics` must outlive the object.
  ActorProcess(ActorProcessOptions options, const envs::TaskFactory& factory, RoleMetrics& metrics);
  ~ActorProcess();
  ActorProcess(const ActorProcess&) = delete;
  ActorProcess& operator=(const ActorProcess&) = delete;

  // Returns OK when the run is over or after Stop(); the learner's error
  // when it refuses the join (wrong task, sizes or protocol, an id in use
  // for over a minute, or not a learner at all: retrying cannot help).
  absl::Status Run();

  // Finishes the current unroll (a collect or eval share runs to its end),
  // leaves and makes Run() return. Thread-safe; callable from any thread.
  void Stop();

 private:
  // What one connection ended with.
  enum class SessionEnd { kRunOver, kStopped, kRefused, kLost };
  SessionEnd RunSession(absl::Status& status);
  // The Policy stream's reader thread: keeps only the newest snapshot.
  void ReadPolicies(grpc::ClientReader<v1::PolicySnapshot>* reader);
  // Sends one message, opening the Send stream when needed. A message the
  // learner refuses (INVALID_ARGUMENT) is logged and skipped.
  absl::Status SendMessage(const v1::ActorMessage& message);
  void CloseSendStream();
  absl::Status DoWork(const v1::Work& work);
  absl::Status InstallPolicy(const v1::PolicySnapshot& snapshot);
  bool NewSnapshotWaiting() ABSL_LOCKS_EXCLUDED(mu_);
  // Holds the next unroll back until the env-step cap allows it, or Stop().
  void AwaitPacerTurn() ABSL_LOCKS_EXCLUDED(mu_);
  // Tells the learner this actor is gone (once per session). A blocking RPC
  // (up to 2 s), so never called with mu_ held.
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);
  bool stopped() ABSL_LOCKS_EXCLUDED(mu_);

  const ActorProcessOptions options_;
  const envs::TaskFactory& factory_;
  RoleMetrics& metrics_;
  const uint64_t incarnation_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Learner::Stub> stub_;

  // Per session, used by the thread in Run() only.
  std::unique_ptr<actor::RolloutWorker> worker_;
  // Across sessions and snapshots: a new policy does not reset the cap.
  actor::StepPacer pacer_;
  std::string actor_id_;
  uint64_t session_ = 0;
  // Since when joins are refused because the actor id is in use.
  std::optional<std::chrono::steady_clock::time_point> id_in_use_since_;
  uint64_t last_done_work_ = 0;
  std::string installed_policy_;  // key of the installed snapshot's weights
  std::unique_ptr<grpc::ClientContext> send_context_;
  std::unique_ptr<grpc::ClientWriter<v1::ActorMessage>> send_writer_;
  v1::SendSummary send_summary_;

  // Shared with the policy reader thread and Stop().
  absl::Mutex mu_;
  absl::CondVar changed_;  // signalled when anything below changes
  std::optional<v1::PolicySnapshot> latest_ ABSL_GUARDED_BY(mu_);
  bool policy_stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status policy_status_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_send_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The session Leave() closes (Stop() may call it from another thread).
  std::string leave_actor_id_ ABSL_GUARDED_BY(mu_);
  uint64_t leave_session_ ABSL_GUARDED_BY(mu_) = 0;
  bool left_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ACTOR_PROCESS_H_
