// The learner's view of its actors, free of any transport: sessions, work
// assignment, encoder versions, policy lag and the rollout queue. It is the
// learner::ActorGroup that the stage coordinator drives; a transport (the
// gRPC service in runtime/grpc_learner_service.h, or a test) feeds it the
// actors' calls.
//
//   Broadcast  -> store the snapshot, give every actor its work, wake every
//                 policy stream (each delivers the newest snapshot + work)
//   HandleMessage -> rollouts into the bounded RolloutQueue (blocking while
//                 it is full), collect chunks / eval reports into the
//                 ShareBoard
//   GatherRollouts <- pops the queue until `sequences` env-unrolls of the
//                 current encoder version (or within max_policy_lag) are in
//   Collect / Evaluate -> cut the request into shares, hand them to idle
//                 actors, take back the shares of actors that leave or time
//                 out, return once every share is in
//
// Actors may join and leave at any time. An actor is connected from Join
// until Leave, the end of its policy stream, a broken send stream, or the
// join timeout when it never opens its policy stream. Every incoming message
// is validated (common/message_checks.h); a malformed one is refused with
// INVALID_ARGUMENT and everything received before it is kept. Each refusal
// is counted in gorl_messages_refused_total{reason}. When every connected
// actor has had its last kDataRefusalsBeforeFailing data messages refused,
// none accepted for refused_data_timeout, GatherRollouts, Collect and
// Evaluate fail with FAILED_PRECONDITION naming the last reason: nothing the
// actors send can reach the learner (a diverged policy whose values leave
// the message bounds, a mismatched configuration), and waiting would stall
// the run for ever.
//
// What a peer can hold (the learner's port may be reachable by anyone on
// the network, docs/runtime.md "Limits on peers"):
//   - Sessions: at most max_actors (RESOURCE_EXHAUSTED beyond). A session
//     number is 64 bits from the kernel's CSPRNG (getrandom), so it cannot
//     be guessed, and it is bound to the peer key of the caller that joined
//     (the transport computes that key): a call naming a session from
//     another peer is treated like an unknown session. Nobody can Leave,
//     follow the policy of or send for another actor's session.
//   - Streams: at most kMaxPolicyStreams policy and kMaxSendStreams send
//     streams per session (OpenStream; RESOURCE_EXHAUSTED beyond), so the
//     server threads a peer can hold are bounded by max_actors x 3.
//   - A session whose policy stream is not opened within join_timeout is
//     removed: it held a share and counted as connected for nothing.
//   - An actor id in use by a live session is refused with ALREADY_EXISTS
//     (the running actor keeps its session: no eviction loop). Only the
//     same process (same incarnation, same peer) rejoining replaces its old
//     session; a restarted actor gets its id back once the old session is
//     gone (its streams broke, or the join timeout removed it).
//   - Rollouts: unknown fields are discarded, values bounded, and the
//     queue is bounded in sequences and in bytes.
//
// Thread-safe: every public method may be called from any thread. Methods
// that wait poll `cancelled` (the caller's peer went away) and return when
// the fleet is finished or shut down.
#ifndef GORL_RUNTIME_ACTOR_FLEET_H_
#define GORL_RUNTIME_ACTOR_FLEET_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/message_checks.h"
#include "common/metrics.h"
#include "gorl/v1/policy.pb.h"
#include "gorl/v1/services.pb.h"
#include "learner/roles.h"
#include "runtime/rollout_queue.h"
#include "runtime/work_shares.h"

namespace gorl::runtime {

struct ActorFleetOptions {
  // What joining actors must match.
  std::string task;
  int obs_size = 0;
  int action_size = 0;
  // What each rollout step records beyond PPO's fields (FPO draws, DPPO
  // Euler steps; common/message_checks.h TaskShape).
  int fpo_draws = 0;
  int dppo_steps = 0;
  // The run's seed; actors' env seeds derive from it (common/seed_streams.h).
  uint64_t run_seed = 0;
  // Train-mode unroll length until GatherRollouts asks for another.
  int unroll_length = 1;
  // Env-unroll sequences the learner buffers before actors' sends block
  // (the PPO batch size is a good value).
  int64_t queue_capacity = 512;
  // Encoder versions a rollout may lag behind and still be used (0 =
  // on-policy). Never across a stage boundary or a decoder swap.
  int max_policy_lag = 0;
  // Shares per Collect / Evaluate; 0 = one per connected actor.
  int work_shares = 0;
  // A share not finished this long after its assignment goes to another actor.
  std::chrono::seconds share_timeout{1800};
  // How long every connected actor may have had only its data messages
  // refused (at least kDataRefusalsBeforeFailing each) before a wait for data
  // fails. Long enough that a peer sending garbage while the real actors are
  // still joining cannot end the run.
  std::chrono::seconds refused_data_timeout{30};
  // Upper bound on an actor's env count (a sanity check of Join). The
  // learner passes max(rollout.num_envs, the batch in sequences): more
  // envs than that only slow the run (one unroll overfills the batch).
  int max_actor_envs = 65536;
  // Actor sessions at once; a Join beyond is RESOURCE_EXHAUSTED.
  int max_actors = 256;
  // A session that has not opened its policy stream this long after its
  // join is removed.
  std::chrono::milliseconds join_timeout{30000};
  // Bytes of rollouts the queue holds; 0: derived, twice queue_capacity
  // sequences of the task's rollout size, at least kMaxMessageBytes.
  int64_t queue_bytes = 0;
  // The first Broadcast waits until this many actors have joined, so that
  // all of them start from the first snapshot (a launcher that starts N
  // actors passes N). 0: broadcast at once, to whoever is there.
  int min_actors = 0;
};

class ActorFleet : public learner::ActorGroup {
 public:
  // Where a policy stream stands: what it has delivered so far.
  struct PolicyCursor {
    bool opened = false;
    uint64_t snapshot_generation = 0;
    uint64_t work_generation = 0;
  };
  using CancelledFn = std::function<bool()>;
  enum class StreamKind { kPolicy, kSend };
  static constexpr int kMaxPolicyStreams = 1;
  static constexpr int kMaxSendStreams = 2;
  // Refused data messages in a row, from every actor, before a wait fails.
  // A legitimate actor's message is never refused, so a few are certain.
  static constexpr int kDataRefusalsBeforeFailing = 4;

  // One open stream of a session, counted against its limit while alive.
  class StreamSlot {
   public:
    StreamSlot(StreamSlot&& other) noexcept
        : fleet_(std::exchange(other.fleet_, nullptr)),
          session_(other.session_),
          kind_(other.kind_),
          id_(other.id_) {}
    StreamSlot& operator=(StreamSlot&&) = delete;
    ~StreamSlot();

   private:
    friend class ActorFleet;
    StreamSlot(ActorFleet* fleet, uint64_t session, StreamKind kind, uint64_t id)
        : fleet_(fleet), session_(session), kind_(kind), id_(id) {}
    ActorFleet* fleet_;
    uint64_t session_;
    StreamKind kind_;
    uint64_t id_;
  };

  // `metrics` must outlive the fleet.
  ActorFleet(ActorFleetOptions options, RoleMetrics& metrics);
  ~ActorFleet() override;
  ActorFleet(const ActorFleet&) = delete;
  ActorFleet& operator=(const ActorFleet&) = delete;

  // --- the actors' side (called by a transport) ---

  // `peer` in the calls below is the caller's peer key (the transport's
  // notion of who is calling: today its address without the port); a
  // session answers only to the peer key that joined it.

  // Checks the handshake (protocol, task, sizes, env count) and opens a
  // session bound to `peer`. FAILED_PRECONDITION on a mismatch, naming both
  // sides' values; ALREADY_EXISTS for an id in use; RESOURCE_EXHAUSTED at
  // max_actors.
  absl::StatusOr<v1::JoinReply> Join(const v1::JoinRequest& request, const std::string& peer);

  // Admits one stream of `kind` for the session before anything is read
  // from it. FAILED_PRECONDITION (unknown, removed or foreign session: join
  // again), RESOURCE_EXHAUSTED (the session's streams of that kind are at
  // their limit). Opening a policy stream stops the join timeout.
  // `cancel` (may be null) ends a send stream from outside when its session
  // is removed: a send handler blocked reading a silent stream would
  // otherwise hold its server thread until the peer closes it. It is
  // called with the fleet's lock held, so it must not call back.
  absl::StatusOr<StreamSlot> OpenStream(StreamKind kind, uint64_t session,
                                        const std::string& actor_id, const std::string& peer,
                                        std::function<void()> cancel = nullptr);

  // The next snapshot (with this actor's work) that `cursor` has not
  // delivered, waiting for one. nullopt: the run is over, end the stream
  // OK. Errors: FAILED_PRECONDITION (never joined), ABORTED (session
  // replaced or removed), UNAVAILABLE (shutting down), CANCELLED
  // (`cancelled` became true; the session is removed).
  absl::StatusOr<std::optional<v1::PolicySnapshot>> NextPolicy(uint64_t session,
                                                               const std::string& actor_id,
                                                               const std::string& peer,
                                                               PolicyCursor& cursor,
                                                               const CancelledFn& cancelled);

  // One message of a send stream from `peer`. A rollout may wait while the
  // queue is full (polling `cancelled`). INVALID_ARGUMENT for a malformed
  // message, FAILED_PRECONDITION for an unknown or foreign session,
  // CANCELLED when the run is over or the sender went away, UNAVAILABLE
  // while shutting down.
  absl::Status HandleMessage(v1::ActorMessage& message, const std::string& peer,
                             v1::SendSummary& summary, const CancelledFn& cancelled);

  // The transport lost the actor's stream: its session and share go.
  void StreamBroke(uint64_t session, const std::string& actor_id, const std::string& reason);

  // FAILED_PRECONDITION when the session is not connected or not `peer`'s.
  absl::Status Leave(const v1::LeaveRequest& request, const std::string& peer);

  // --- the learner's side (learner::ActorGroup) ---

  absl::Status Broadcast(const v1::PolicySnapshot& snapshot) override;
  absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                          int unroll_length) override;
  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed) override;
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic, uint64_t seed) override;

  // The run is over: policy streams end OK, which tells actors to exit.
  void Finish();
  // Stops all waiting: pending and later calls fail with CANCELLED.
  void Shutdown();
  int connected_actors() const override;
  // Streams of `kind` open over all sessions.
  int open_streams(StreamKind kind) const;
  // After Finish: waits until every actor has disconnected or `timeout` passed.
  bool WaitForActorsToLeave(std::chrono::milliseconds timeout);

 private:
  struct Session {
    std::string actor_id;
    uint64_t incarnation = 0;
    int num_envs = 0;
    std::string peer;  // the peer key it is bound to
    std::chrono::steady_clock::time_point joined_at;
    bool policy_opened = false;
    int policy_streams = 0;
    int send_streams = 0;
    // Cancels of the open send streams, by slot id.
    std::map<uint64_t, std::function<void()>> send_cancels;
    v1::Work work;  // current assignment
    uint64_t work_generation = 0;
    // Data messages (rollouts, collected pairs, eval reports) refused for
    // their content since this session's last accepted one; the last reason.
    int data_refused_in_a_row = 0;
    std::chrono::steady_clock::time_point data_refused_since;
    std::string last_data_refusal;
  };

  void CloseStream(StreamKind kind, uint64_t session, uint64_t slot);
  // Removes sessions past the join timeout, until Shutdown.
  void ReapUnopenedSessions();
  // A refused call or message: counted by `reason`, returned.
  absl::Status Refuse(absl::Status status, const std::string& reason);
  // Notes a data message of `session` as accepted (OK) or refused.
  void NoteDataLocked(uint64_t session, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteData(uint64_t session, const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // FAILED_PRECONDITION when every connected actor had its last
  // kDataRefusalsBeforeFailing data messages refused, for at least
  // refused_data_timeout (see the top).
  absl::Status CheckDataCanArriveLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status HandleRollout(v1::Rollout& rollout, int num_envs, v1::SendSummary& summary,
                             const CancelledFn& cancelled);
  absl::Status HandleResult(uint64_t session, const v1::ActorMessage& message,
                            v1::SendSummary& summary);
  // Runs one Collect or Evaluate job: `split(n)` cuts it into n shares.
  absl::StatusOr<std::vector<ShareBoard::Share>> RunShares(
      const std::function<std::vector<v1::Work>(int)>& split, const char* what);

  // Waits until `count` actors are connected; false if the fleet shut
  // down first. `what` says in the log what they are awaited for.
  bool AwaitActorsLocked(int count, const char* what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The session numbered `session` if it has `actor_id` and `peer` (or any
  // peer when `peer` is null: the transport's own notices).
  Session* FindLocked(uint64_t session, const std::string& actor_id, const std::string* peer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(uint64_t session, const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AssignLocked(Session& session, v1::Work work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Work IdleWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // New train work for every actor; `sequences` (> 0, on-policy only) caps
  // the unrolls each may send for it at the rounds that many sequences take.
  void NewTrainWorkLocked(int64_t sequences) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ActorFleetOptions options_;
  const TaskShape shape_;
  RoleMetrics& metrics_;
  RolloutQueue queue_;

  mutable absl::Mutex mu_;
  // Signalled whenever the snapshot, sessions, work or shares change.
  absl::CondVar changed_;
  std::shared_ptr<const v1::PolicySnapshot> snapshot_ ABSL_GUARDED_BY(mu_);  // without work
  uint64_t snapshot_generation_ ABSL_GUARDED_BY(mu_) = 0;
  v1::ActorMode mode_ ABSL_GUARDED_BY(mu_) = v1::ACTOR_MODE_UNSPECIFIED;
  std::map<uint64_t, Session> sessions_ ABSL_GUARDED_BY(mu_);  // by session number
  uint64_t joins_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_slot_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_work_id_ ABSL_GUARDED_BY(mu_) = 1;
  v1::Work train_work_ ABSL_GUARDED_BY(mu_);
  // Actors told to stop unrolling after a gather.
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  // What the last GatherRollouts asked for.
  int64_t batch_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  // The longest wait for a rollout in the last GatherRollouts.
  std::chrono::steady_clock::duration longest_rollout_gap_ ABSL_GUARDED_BY(mu_){};
  int train_unroll_length_ ABSL_GUARDED_BY(mu_);
  int64_t current_version_ ABSL_GUARDED_BY(mu_) = 0;
  // First encoder version of the current stage and decoder.
  int64_t stage_start_version_ ABSL_GUARDED_BY(mu_) = 0;
  int last_train_stage_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t last_train_decoder_version_ ABSL_GUARDED_BY(mu_) = -1;
  ShareBoard board_ ABSL_GUARDED_BY(mu_);
  // When the last GatherRollouts returned: the stage coordinator runs the
  // PPO update right after it and broadcasts right after that, so the gap
  // to the next Broadcast is the update's duration.
  std::optional<std::chrono::steady_clock::time_point> gathered_at_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Runs ReapUnopenedSessions; joined in the destructor.
  std::thread reaper_;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ACTOR_FLEET_H_
