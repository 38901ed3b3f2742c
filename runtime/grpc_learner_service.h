// The learner side of the distributed runtime: the gorl.v1.Learner service
// and GrpcActorGroup, the learner::ActorGroup that the stage coordinator
// drives. One object is both; the service's handlers and the coordinator's
// calls meet in its state.
//
//   Broadcast  -> store the snapshot, give every actor its work, wake every
//                 Policy stream (each pushes the newest snapshot + work)
//   Send       -> rollouts into the bounded RolloutQueue (blocking while it
//                 is full), collect chunks / eval reports into the ShareBoard
//   GatherRollouts <- pops the queue until `sequences` env-unrolls of the
//                 current encoder version (or within max_policy_lag) are in
//   Collect / Evaluate -> cut the request into shares, hand them to idle
//                 actors, take back the shares of actors that leave or time
//                 out, return once every share is in
//
// Actors may join and leave at any time. An actor is connected from Join
// until Leave, the end of its Policy stream or a broken Send stream; a Join
// with the id of a connected actor replaces it. Every incoming message is
// validated; a malformed one ends its Send stream with INVALID_ARGUMENT and
// everything received before it is kept.
#ifndef GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_
#define GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "gorl/v1/policy.pb.h"
#include "gorl/v1/services.grpc.pb.h"
#include "learner/roles.h"
#include "runtime/message_checks.h"
#include "runtime/rollout_queue.h"
#include "runtime/work_shares.h"

namespace gorl::runtime {

struct ActorGroupOptions {
  // What joining actors must match.
  std::string task;
  int obs_size = 0;
  int action_size = 0;
  // The run's seed; actors' env seeds derive from it (runtime/seeds.h).
  uint64_t run_seed = 0;
  // Train-mode unroll length until GatherRollouts asks for another.
  int unroll_length = 1;
  // Env-unroll sequences the learner buffers before actors' Sends block
  // (the PPO batch size is a good value).
  int64_t queue_capacity = 512;
  // Encoder versions a rollout may lag behind and still be used (0 =
  // on-policy). Never across a stage boundary or a decoder swap.
  int max_policy_lag = 0;
  // Shares per Collect / Evaluate; 0 = one per connected actor.
  int work_shares = 0;
  // A share not finished this long after its assignment goes to another actor.
  std::chrono::seconds share_timeout{1800};
  // Upper bound on an actor's env count (a sanity check of Join).
  int max_actor_envs = 65536;
};

class GrpcActorGroup : public learner::ActorGroup {
 public:
  // `metrics` must outlive the group.
  GrpcActorGroup(ActorGroupOptions options, RoleMetrics& metrics);
  ~GrpcActorGroup() override;

  // The gorl.v1.Learner service to register with a server (owned here).
  grpc::Service* service();

  absl::Status Broadcast(const v1::PolicySnapshot& snapshot) override;
  absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                          int unroll_length) override;
  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed) override;
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic,
                                          uint64_t seed) override;

  // The run is over: Policy streams end OK, which tells actors to exit.
  void Finish();
  // Stops all waiting: pending and later calls fail with CANCELLED.
  void Shutdown();
  int connected_actors() const;
  // After Finish: waits until every actor has disconnected or `timeout` passed.
  bool WaitForActorsToLeave(std::chrono::milliseconds timeout);

 private:
  class Service;
  struct Session {
    std::string actor_id;
    uint64_t incarnation = 0;
    int num_envs = 0;
    std::string peer;
    v1::Work work;             // current assignment
    uint64_t work_generation = 0;
  };

  // --- service handlers ---
  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest& request,
                    v1::JoinReply* reply);
  grpc::Status Policy(grpc::ServerContext* context, const v1::PolicyRequest& request,
                      grpc::ServerWriter<v1::PolicySnapshot>* writer);
  grpc::Status Send(grpc::ServerContext* context, grpc::ServerReader<v1::ActorMessage>* reader,
                    v1::SendSummary* summary);
  grpc::Status Leave(grpc::ServerContext* context, const v1::LeaveRequest& request,
                     v1::LeaveReply* reply);

  absl::Status HandleMessage(grpc::ServerContext* context, v1::ActorMessage& message,
                             v1::SendSummary& summary);
  absl::Status HandleResult(uint64_t session, const v1::ActorMessage& message,
                            v1::SendSummary& summary);
  // Runs one Collect or Evaluate job: `split(n)` cuts it into n shares.
  absl::StatusOr<std::vector<ShareBoard::Share>> RunShares(
      const std::function<std::vector<v1::Work>(int)>& split, const char* what);

  // The following need mu_ held.
  Session* FindLocked(uint64_t session, const std::string& actor_id);
  void RemoveLocked(uint64_t session, const std::string& reason);
  void AssignLocked(Session& session, v1::Work work);
  v1::Work IdleWorkLocked() const;
  // New train work for every actor; `sequences` (> 0, on-policy only) caps
  // the unrolls each may send for it at the rounds that many sequences take.
  void NewTrainWorkLocked(int64_t sequences);

  const ActorGroupOptions options_;
  const TaskShape shape_;
  RoleMetrics& metrics_;
  std::unique_ptr<Service> service_;
  RolloutQueue queue_;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // snapshot, sessions, work or shares changed
  std::shared_ptr<const v1::PolicySnapshot> snapshot_;  // without work
  uint64_t snapshot_generation_ = 0;
  v1::ActorMode mode_ = v1::ACTOR_MODE_UNSPECIFIED;
  std::map<uint64_t, Session> sessions_;  // by session number
  uint64_t next_session_ = 1;
  uint64_t joins_ = 0;
  uint64_t next_work_id_ = 1;
  v1::Work train_work_;
  bool paused_ = false;  // actors told to stop unrolling after a gather
  int64_t batch_sequences_ = 0;  // what the last GatherRollouts asked for
  // The longest wait for a rollout in the last GatherRollouts.
  std::chrono::steady_clock::duration longest_rollout_gap_{};
  int train_unroll_length_;
  int64_t current_version_ = 0;
  // First encoder version of the current stage and decoder.
  int64_t stage_start_version_ = 0;
  int last_train_stage_ = -1;
  int64_t last_train_decoder_version_ = -1;
  ShareBoard board_;
  // When the last GatherRollouts returned: the stage coordinator runs the
  // PPO update right after it and broadcasts right after that, so the gap
  // to the next Broadcast is the update's duration.
  std::optional<std::chrono::steady_clock::time_point> gathered_at_;
  bool finished_ = false;
  bool shutdown_ = false;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_
