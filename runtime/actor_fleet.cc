#include "runtime/actor_fleet.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <sys/random.h>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "runtime/message_ops.h"
#include "runtime/protocol.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// How often waiting loops re-check cancellation, and how often they log
// that they are still waiting.
constexpr absl::Duration kPoll = absl::Milliseconds(200);
constexpr std::chrono::seconds kLogEvery(10);
// A gather that received nothing for a while re-issues train work: the
// unroll budgets did not cover the batch (an actor left, or rollouts were
// dropped). The wait is twice the longest gap between two rollouts in the
// previous gather (within these bounds), so that it rarely makes actors
// unroll more than needed.
constexpr std::chrono::seconds kMinTopUpAfter(2);
constexpr std::chrono::seconds kMaxTopUpAfter(60);
// How often the reaper looks for sessions past the join timeout.
constexpr absl::Duration kReapEvery = absl::Milliseconds(250);

// 64 bits from the kernel's CSPRNG: a session number nobody can guess from
// their own (they used to be sequential, so any client could Leave the
// session before or after its own).
uint64_t UnguessableNumber() {
  uint64_t value = 0;
  char* out = reinterpret_cast<char*>(&value);
  size_t have = 0;
  while (have < sizeof(value)) {
    const ssize_t got = getrandom(out + have, sizeof(value) - have, 0);
    if (got > 0) have += static_cast<size_t>(got);
    // EINTR retries; getrandom(2) cannot fail otherwise with these flags.
  }
  return value;
}

// Serialized bytes of one env-sequence of a rollout: (T + 1) observations,
// T latents, log-prob, reward and two flags per step, FPO's or DPPO's
// records, plus field overhead.
int64_t BytesPerSequence(const ActorFleetOptions& o) {
  const int64_t t = std::max(1, o.unroll_length);
  const int64_t a = o.action_size;
  const int64_t extra =
      o.fpo_draws * (a + 2) + (o.dppo_steps > 0 ? (o.dppo_steps + 1) * a : 0) + o.dppo_steps;
  return 4 * ((t + 1) * o.obs_size + t * (a + 2 + extra)) + 2 * t + 64;
}

int64_t QueueBytes(const ActorFleetOptions& o) {
  if (o.queue_bytes > 0) return o.queue_bytes;
  return std::max<int64_t>(kMaxMessageBytes,
                           2 * std::max<int64_t>(1, o.queue_capacity) * BytesPerSequence(o));
}

}  // namespace

ActorFleet::StreamSlot::~StreamSlot() {
  if (fleet_ != nullptr) fleet_->CloseStream(kind_, session_, id_);
}

ActorFleet::ActorFleet(ActorFleetOptions options, RoleMetrics& metrics)
    : options_(std::move(options)),
      shape_{options_.obs_size, options_.action_size, options_.fpo_draws, options_.dppo_steps},
      metrics_(metrics),
      queue_(options_.queue_capacity, QueueBytes(options_)),
      train_unroll_length_(options_.unroll_length) {
  metrics_.SetQueueCapacity(static_cast<double>(std::max<int64_t>(1, options_.queue_capacity)));
  reaper_ = std::thread([this] { ReapUnopenedSessions(); });
}

ActorFleet::~ActorFleet() {
  Shutdown();
  reaper_.join();
}

absl::Status ActorFleet::Refuse(absl::Status status, const std::string& reason) {
  metrics_.AddMessageRefused(reason);
  return status;
}

void ActorFleet::NoteDataLocked(uint64_t session, const absl::Status& status) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (status.ok()) {
    it->second.data_refused_in_a_row = 0;
    return;
  }
  if (it->second.data_refused_in_a_row++ == 0) it->second.data_refused_since = Clock::now();
  it->second.last_data_refusal = std::string(status.message());
  changed_.SignalAll();
}

void ActorFleet::NoteData(uint64_t session, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  NoteDataLocked(session, status);
}

absl::Status ActorFleet::CheckDataCanArriveLocked() const {
  if (sessions_.empty()) return absl::OkStatus();
  const Session* last = nullptr;
  const auto refused_before = Clock::now() - options_.refused_data_timeout;
  for (const auto& [number, session] : sessions_) {
    if (session.data_refused_in_a_row < kDataRefusalsBeforeFailing ||
        session.data_refused_since > refused_before) {
      return absl::OkStatus();
    }
    last = &session;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "every connected actor has had its data refused for ", options_.refused_data_timeout.count(),
      " s or more, so none can reach the learner (actor '", last->actor_id,
      "': ", last->data_refused_in_a_row, " refused in a row; the last: ", last->last_data_refusal,
      "). Values beyond the message bounds from every actor mean that the policy they run has "
      "diverged, or that the actors run another configuration (docs/learning.md, \"When a run "
      "diverges\")"));
}

// ------------------------------------------------------- the actors' side

absl::StatusOr<v1::JoinReply> ActorFleet::Join(const v1::JoinRequest& request,
                                               const std::string& peer) {
  auto refuse = [&](absl::Status status) { return Refuse(std::move(status), "join"); };
  if (request.protocol_version() != kProtocolVersion) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("protocol version mismatch: actor speaks ", request.protocol_version(),
                     ", learner speaks ", kProtocolVersion)));
  }
  if (request.task() != options_.task) {
    return refuse(absl::FailedPreconditionError(absl::StrCat(
        "task mismatch: actor runs '", request.task(), "', learner trains '", options_.task, "'")));
  }
  if (request.obs_size() != options_.obs_size || request.action_size() != options_.action_size) {
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("size mismatch: actor has obs_size ", request.obs_size(), " / action_size ",
                     request.action_size(), ", learner has obs_size ", options_.obs_size,
                     " / action_size ", options_.action_size)));
  }
  if (request.num_envs() <= 0 || request.num_envs() > options_.max_actor_envs) {
    return refuse(absl::InvalidArgumentError(absl::StrCat(
        "num_envs ", request.num_envs(), " must be in [1, ", options_.max_actor_envs, "]")));
  }
  if (request.actor_id().size() > 128) {
    return refuse(absl::InvalidArgumentError("actor_id longer than 128 characters"));
  }
  absl::MutexLock lock(&mu_);
  if (shutdown_) return absl::UnavailableError("learner is shutting down");
  if (finished_) return absl::FailedPreconditionError("the run is over");
  auto in_use = [&](const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.actor_id == id) return it;
    }
    return sessions_.end();
  };
  std::string id = request.actor_id();
  if (id.empty()) {
    do {
      id = absl::StrCat("actor-", joins_++);
    } while (in_use(id) != sessions_.end());
  }
  if (auto old = in_use(id); old != sessions_.end()) {
    // The same process rejoining (its session broke on its side before the
    // learner noticed) replaces itself; anyone else waits until the old
    // session is gone instead of evicting it (two actors with one id used
    // to evict each other in a loop).
    const Session& existing = old->second;
    if (request.incarnation() != 0 && existing.incarnation == request.incarnation() &&
        existing.peer == peer) {
      RemoveLocked(old->first, "replaced by its own new join");
    } else {
      return Refuse(
          absl::AlreadyExistsError(absl::StrCat(
              "actor id '", id, "' is in use by a connected actor (from ", existing.peer,
              "); give this actor another --actor_id, or wait until the old one is gone")),
          "id_in_use");
    }
  }
  if (static_cast<int>(sessions_.size()) >= options_.max_actors) {
    return Refuse(absl::ResourceExhaustedError(absl::StrCat("the learner has its maximum of ",
                                                            options_.max_actors,
                                                            " actor sessions (--max_actors)")),
                  "max_actors");
  }
  uint64_t number = 0;
  while (number == 0 || sessions_.count(number) > 0) number = UnguessableNumber();
  Session& session = sessions_[number];
  session.actor_id = id;
  session.incarnation = request.incarnation();
  session.num_envs = request.num_envs();
  session.peer = peer;
  session.joined_at = Clock::now();
  session.work = mode_ == v1::ACTOR_MODE_TRAIN && !paused_ ? train_work_ : IdleWorkLocked();
  v1::JoinReply reply;
  reply.set_actor_id(id);
  reply.set_session(number);
  reply.set_env_seed(SeedFor(options_.run_seed, SeedStream::kActorEnvs, joins_++));
  metrics_.SetConnectedActors(static_cast<double>(sessions_.size()));
  LOG(INFO) << "actor " << id << " joined from " << peer << " with " << request.num_envs()
            << " envs (" << sessions_.size() << " connected)";
  changed_.SignalAll();
  return reply;
}

absl::StatusOr<ActorFleet::StreamSlot> ActorFleet::OpenStream(StreamKind kind, uint64_t session,
                                                              const std::string& actor_id,
                                                              const std::string& peer,
                                                              std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  Session* found = FindLocked(session, actor_id, &peer);
  if (found == nullptr) {
    return Refuse(
        absl::FailedPreconditionError(absl::StrCat(
            "actor '", actor_id, "' has no session with that number from ", peer, "; join again")),
        "session");
  }
  int& open = kind == StreamKind::kPolicy ? found->policy_streams : found->send_streams;
  const int limit = kind == StreamKind::kPolicy ? kMaxPolicyStreams : kMaxSendStreams;
  if (open >= limit) {
    return Refuse(
        absl::ResourceExhaustedError(absl::StrCat("actor '", actor_id, "' already has ", open, " ",
                                                  kind == StreamKind::kPolicy ? "policy" : "send",
                                                  " stream(s) open, the limit per session")),
        "stream_limit");
  }
  ++open;
  const uint64_t slot = next_slot_++;
  if (kind == StreamKind::kPolicy) found->policy_opened = true;
  if (kind == StreamKind::kSend && cancel) found->send_cancels[slot] = std::move(cancel);
  return StreamSlot(this, session, kind, slot);
}

void ActorFleet::CloseStream(StreamKind kind, uint64_t session, uint64_t slot) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  it->second.send_cancels.erase(slot);
  int& open = kind == StreamKind::kPolicy ? it->second.policy_streams : it->second.send_streams;
  open = std::max(0, open - 1);
}

void ActorFleet::ReapUnopenedSessions() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&shutdown_), kReapEvery)) {
    const auto deadline = Clock::now() - options_.join_timeout;
    std::vector<uint64_t> unopened;
    for (const auto& [number, session] : sessions_) {
      if (!session.policy_opened && session.joined_at < deadline) unopened.push_back(number);
    }
    for (uint64_t number : unopened) {
      RemoveLocked(number, absl::StrCat("it did not open its policy stream within ",
                                        options_.join_timeout.count(), " ms of joining"));
    }
  }
}

absl::StatusOr<std::optional<v1::PolicySnapshot>> ActorFleet::NextPolicy(
    uint64_t session_number, const std::string& actor_id, const std::string& peer,
    PolicyCursor& cursor, const CancelledFn& cancelled) {
  std::shared_ptr<const v1::PolicySnapshot> snapshot;
  v1::Work work;
  {
    absl::MutexLock lock(&mu_);
    if (!cursor.opened) {
      Session* session = FindLocked(session_number, actor_id, &peer);
      if (session == nullptr) {
        return Refuse(absl::FailedPreconditionError(absl::StrCat(
                          "actor '", actor_id, "' has not joined from ", peer, "; join again")),
                      "session");
      }
      session->policy_opened = true;
    }
    cursor.opened = true;
    while (true) {
      const Session* session = FindLocked(session_number, actor_id, &peer);
      if (shutdown_) return absl::UnavailableError("learner is shutting down");
      if (finished_) return std::nullopt;
      if (session == nullptr) return absl::AbortedError("session replaced or removed; join again");
      if (snapshot_ != nullptr && (snapshot_generation_ != cursor.snapshot_generation ||
                                   session->work_generation != cursor.work_generation)) {
        snapshot = snapshot_;
        work = session->work;
        cursor.snapshot_generation = snapshot_generation_;
        cursor.work_generation = session->work_generation;
        break;
      }
      changed_.WaitWithTimeout(&mu_, kPoll);
      // The liveness check of the stream: a vanished actor cancels it.
      if (cancelled && cancelled()) {
        RemoveLocked(session_number, "its policy stream was cancelled");
        return absl::CancelledError("the actor went away");
      }
    }
  }
  // The copy of a snapshot (weights of a few MiB) is made outside the lock.
  v1::PolicySnapshot message = *snapshot;
  *message.mutable_work() = std::move(work);
  return message;
}

absl::Status ActorFleet::HandleMessage(v1::ActorMessage& message, const std::string& peer,
                                       v1::SendSummary& summary, const CancelledFn& cancelled) {
  int num_envs = 0;
  {
    absl::MutexLock lock(&mu_);
    const Session* session = FindLocked(message.session(), message.actor_id(), &peer);
    if (session == nullptr) {
      return Refuse(absl::FailedPreconditionError(
                        absl::StrCat("actor '", message.actor_id(), "' has no session from ", peer,
                                     " (never joined or removed); join again")),
                    "session");
    }
    num_envs = session->num_envs;
  }
  // Fields this protocol does not know would otherwise ride along into the
  // queue: a rollout of the right shape padded with megabytes of them.
  message.DiscardUnknownFields();
  const std::string prefix = absl::StrCat("actor '", message.actor_id(), "': ");
  auto refuse = [&](const absl::Status& valid) {
    const std::string reason = RefusalReason(valid);
    absl::Status refused = Refuse(absl::InvalidArgumentError(prefix + std::string(valid.message())),
                                  reason.empty() ? "malformed" : reason);
    if (message.payload_case() != v1::ActorMessage::PAYLOAD_NOT_SET) {
      NoteData(message.session(), refused);
    }
    return refused;
  };
  switch (message.payload_case()) {
    case v1::ActorMessage::kRollout: {
      const absl::Status valid = CheckRollout(message.rollout(), shape_, num_envs);
      if (!valid.ok()) return refuse(valid);
      // The session's id, checked above, not whatever the sender wrote.
      message.mutable_rollout()->set_actor_id(message.actor_id());
      NoteData(message.session(), absl::OkStatus());
      return HandleRollout(*message.mutable_rollout(), num_envs, summary, cancelled);
    }
    case v1::ActorMessage::kRefinement: {
      const absl::Status valid = CheckRefinementData(message.refinement(), shape_);
      if (!valid.ok()) return refuse(valid);
      return HandleResult(message.session(), message, summary);
    }
    case v1::ActorMessage::kEvalReport:
      return HandleResult(message.session(), message, summary);
    case v1::ActorMessage::PAYLOAD_NOT_SET:
      break;
  }
  return refuse(absl::InvalidArgumentError("message without payload"));
}

absl::Status ActorFleet::HandleRollout(v1::Rollout& rollout, int num_envs, v1::SendSummary& summary,
                                       const CancelledFn& cancelled) {
  metrics_.AddRolloutsReceived(1);
  {
    // A rollout of another length than the learner gathers is unusable:
    // dropped here rather than held in the queue until a gather drops it.
    absl::MutexLock lock(&mu_);
    if (rollout.unroll_length() != train_unroll_length_) {
      summary.set_rollouts_dropped(summary.rollouts_dropped() + 1);
      metrics_.AddStaleRolloutsDropped(1);
      return absl::OkStatus();
    }
  }
  switch (queue_.Push(std::move(rollout), cancelled)) {
    case RolloutQueue::PushResult::kQueued:
      summary.set_rollouts_accepted(summary.rollouts_accepted() + 1);
      break;
    case RolloutQueue::PushResult::kStale:
    case RolloutQueue::PushResult::kFull:
      summary.set_rollouts_dropped(summary.rollouts_dropped() + 1);
      metrics_.AddStaleRolloutsDropped(1);
      break;
    case RolloutQueue::PushResult::kClosed: {
      absl::MutexLock lock(&mu_);
      return finished_ ? absl::CancelledError("the run is over")
                       : absl::UnavailableError("learner is shutting down");
    }
    case RolloutQueue::PushResult::kCancelled:
      return absl::CancelledError("the actor went away");
  }
  metrics_.SetQueueDepth(static_cast<double>(queue_.queued_sequences()));
  return absl::OkStatus();
}

absl::Status ActorFleet::HandleResult(uint64_t session, const v1::ActorMessage& message,
                                      v1::SendSummary& summary) {
  absl::MutexLock lock(&mu_);
  ShareBoard::Share* share = board_.Find(message.work_id(), session);
  // Work that moved on (timed out, reassigned, job over) is no error.
  if (share == nullptr) return absl::OkStatus();
  const std::string prefix =
      absl::StrCat("actor '", message.actor_id(), "', work ", message.work_id(), ": ");
  // A bad result puts the share back for someone else before refusing.
  auto refuse = [&](const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    board_.Release(session);
    changed_.SignalAll();
    absl::Status refused = Refuse(absl::InvalidArgumentError(prefix + why), "bad_result");
    NoteDataLocked(session, refused);
    return refused;
  };
  if (message.has_refinement()) {
    if (!share->work.has_collect()) return refuse("collect data for a share that is not collect");
    const int64_t expected = share->work.collect().pairs();
    const int64_t total = NumPairs(share->pairs) + NumPairs(message.refinement());
    if (total > expected) {
      return refuse(absl::StrCat(total, " pairs sent, the share is ", expected));
    }
    AppendPairs(message.refinement(), share->pairs);
    if (message.last_chunk()) {
      if (total != expected) {
        return refuse(absl::StrCat("only ", total, " of ", expected, " pairs before last_chunk"));
      }
      board_.Complete(*share);
    }
  } else {
    if (!share->work.has_eval()) return refuse("eval report for a share that is not eval");
    const v1::EvalReport& report = message.eval_report();
    const absl::Status valid = CheckEvalReport(report, share->work.eval().episodes());
    if (!valid.ok()) return refuse(std::string(valid.message()));
    if (report.deterministic() != share->work.eval().deterministic()) {
      return refuse("eval report has the wrong deterministic flag");
    }
    share->report = report;
    board_.Complete(*share);
  }
  summary.set_results_accepted(summary.results_accepted() + 1);
  NoteDataLocked(session, absl::OkStatus());
  changed_.SignalAll();
  return absl::OkStatus();
}

void ActorFleet::StreamBroke(uint64_t session, const std::string& actor_id,
                             const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (FindLocked(session, actor_id, nullptr) == nullptr) return;
  RemoveLocked(session, finished_ ? "the run is over" : reason);
}

absl::Status ActorFleet::Leave(const v1::LeaveRequest& request, const std::string& peer) {
  absl::MutexLock lock(&mu_);
  if (FindLocked(request.session(), request.actor_id(), &peer) == nullptr) {
    return Refuse(absl::FailedPreconditionError(
                      absl::StrCat("actor '", request.actor_id(), "' has no session from ", peer)),
                  "session");
  }
  RemoveLocked(
      request.session(),
      absl::StrCat("it left (", request.reason().empty() ? "no reason" : request.reason(), ")"));
  return absl::OkStatus();
}

// ------------------------------------------------------- the learner's side

absl::Status ActorFleet::Broadcast(const v1::PolicySnapshot& snapshot) {
  int64_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    // Only the first snapshot waits for the fleet.
    if (snapshot_generation_ == 0 && !AwaitActorsLocked(options_.min_actors, "start")) {
      return absl::CancelledError("learner is shutting down");
    }
    if (shutdown_) return absl::CancelledError("learner is shutting down");
    if (gathered_at_.has_value()) {
      metrics_.ObserveUpdateSeconds(
          std::chrono::duration<double>(Clock::now() - *gathered_at_).count());
      gathered_at_.reset();
    }
    const int64_t version = snapshot.encoder_version();
    mode_ = snapshot.mode();
    if (mode_ == v1::ACTOR_MODE_TRAIN) {
      // A new stage or decoder starts a new policy lineage: no lag across it.
      if (snapshot.stage() != last_train_stage_ ||
          snapshot.decoder().version() != last_train_decoder_version_) {
        stage_start_version_ = version;
        last_train_stage_ = snapshot.stage();
        last_train_decoder_version_ = snapshot.decoder().version();
      }
      current_version_ = version;
      NewTrainWorkLocked(batch_sequences_);
    } else {
      for (auto& [number, session] : sessions_) {
        if (!board_.Holds(number)) AssignLocked(session, IdleWorkLocked());
      }
    }
    auto stored = std::make_shared<v1::PolicySnapshot>(snapshot);
    stored->clear_work();
    snapshot_ = std::move(stored);
    ++snapshot_generation_;
    // Producers only wait for space while someone will drain the queue.
    queue_.SetProducersWait(mode_ == v1::ACTOR_MODE_TRAIN);
    dropped = queue_.SetMinVersion(
        std::max<int64_t>(version - options_.max_policy_lag, stage_start_version_));
    changed_.SignalAll();
  }
  if (dropped > 0) metrics_.AddStaleRolloutsDropped(static_cast<double>(dropped));
  metrics_.SetPolicyVersion(static_cast<double>(snapshot.encoder_version()));
  metrics_.SetStage(snapshot.stage());
  metrics_.SetQueueDepth(static_cast<double>(queue_.queued_sequences()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Rollout>> ActorFleet::GatherRollouts(int64_t sequences,
                                                                    int unroll_length) {
  int64_t version = 0;
  Clock::duration top_up_after;
  {
    absl::MutexLock lock(&mu_);
    // New work if the length or batch changed, or to resume actors paused
    // after the previous gather (a second gather without a Broadcast).
    if (unroll_length != train_unroll_length_ || sequences != batch_sequences_ || paused_) {
      train_unroll_length_ = unroll_length;
      batch_sequences_ = sequences;
      if (mode_ == v1::ACTOR_MODE_TRAIN) NewTrainWorkLocked(sequences);
    }
    version = current_version_;
    top_up_after =
        std::clamp<Clock::duration>(2 * longest_rollout_gap_, kMinTopUpAfter, kMaxTopUpAfter);
  }
  std::vector<v1::Rollout> rollouts;
  int64_t have = 0, max_lag = 0, dropped = 0, episodes = 0;
  double return_sum = 0;
  auto last_log = Clock::now(), last_rollout = Clock::now();
  Clock::duration longest_gap = Clock::duration::zero();
  while (have < sequences) {
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return absl::CancelledError("learner is shutting down");
      GORL_RETURN_IF_ERROR(CheckDataCanArriveLocked());
      // Unroll budgets ran out short (an actor left or its rollouts were
      // dropped): grant the rest to whoever is connected.
      const int64_t missing = sequences - have - queue_.queued_sequences();
      if (options_.max_policy_lag == 0 && mode_ == v1::ACTOR_MODE_TRAIN && missing > 0 &&
          Clock::now() - last_rollout > top_up_after) {
        NewTrainWorkLocked(missing);
        last_rollout = Clock::now();
      }
    }
    std::optional<v1::Rollout> popped = queue_.Pop(absl::ToChronoMilliseconds(kPoll));
    if (!popped.has_value()) {
      if (Clock::now() - last_log > kLogEvery) {
        last_log = Clock::now();
        const int actors = connected_actors();
        LOG(INFO) << "waiting for rollouts of encoder v" << version << ": " << have << "/"
                  << sequences << " sequences, "
                  << (actors == 0 ? std::string("no actor connected")
                                  : absl::StrCat(actors, " actor(s) connected"));
      }
      continue;
    }
    v1::Rollout rollout = *std::move(popped);
    longest_gap = std::max(longest_gap, Clock::now() - last_rollout);
    last_rollout = Clock::now();
    // Rollouts of a newer version cannot exist; of another length are unusable.
    if (rollout.unroll_length() != unroll_length || rollout.encoder_version() > version) {
      ++dropped;
      continue;
    }
    const int64_t need = sequences - have;
    if (rollout.num_envs() > need) {
      queue_.PushFront(
          SliceEnvs(rollout, static_cast<int>(need), rollout.num_envs() - static_cast<int>(need)));
      rollout = SliceEnvs(rollout, 0, static_cast<int>(need));
    }
    const int64_t lag = version - rollout.encoder_version();
    max_lag = std::max(max_lag, lag);
    // PpoLearner insists on one encoder version per batch. A lagged rollout
    // keeps the behaviour log-probs its actor recorded, which is all the PPO
    // ratio needs, so it joins the batch under the current version.
    if (lag > 0) rollout.set_encoder_version(version);
    for (float r : rollout.episode_returns()) return_sum += r;
    episodes += rollout.episode_returns_size();
    have += rollout.num_envs();
    rollouts.push_back(std::move(rollout));
  }
  {
    absl::MutexLock lock(&mu_);
    gathered_at_ = Clock::now();
    longest_rollout_gap_ = longest_gap;
    if (options_.max_policy_lag == 0 && mode_ == v1::ACTOR_MODE_TRAIN &&
        train_work_.train().max_unrolls() == 0) {
      // On-policy without an unroll budget (the first gather): whatever the
      // actors unroll until the next snapshot would be stale. Pause them
      // (the next Broadcast gives them new work) so that they leave the
      // cores to the update.
      v1::Work pause;
      pause.set_mode(v1::ACTOR_MODE_TRAIN);
      for (auto& [number, session] : sessions_) AssignLocked(session, pause);
      paused_ = true;
    }
  }
  if (dropped > 0) metrics_.AddStaleRolloutsDropped(static_cast<double>(dropped));
  metrics_.SetPolicyLag(static_cast<double>(max_lag));
  metrics_.SetQueueDepth(static_cast<double>(queue_.queued_sequences()));
  metrics_.AddEnvSteps(static_cast<double>(sequences * unroll_length));
  if (episodes > 0) {
    metrics_.AddEpisodes(static_cast<double>(episodes));
    metrics_.SetEpisodeReturn(return_sum / episodes);
  }
  return rollouts;
}

absl::StatusOr<v1::RefinementData> ActorFleet::Collect(int64_t pairs, int num_envs, uint64_t seed) {
  GORL_ASSIGN_OR_RETURN(
      std::vector<ShareBoard::Share> shares,
      RunShares([&](int n) { return SplitCollect(pairs, num_envs, seed, n); }, "collect"));
  v1::RefinementData data;
  data.set_obs_size(options_.obs_size);
  data.set_action_size(options_.action_size);
  for (const ShareBoard::Share& share : shares) AppendPairs(share.pairs, data);
  metrics_.AddEnvSteps(static_cast<double>(pairs));
  return data;
}

absl::StatusOr<v1::EvalReport> ActorFleet::Evaluate(int episodes, bool deterministic,
                                                    uint64_t seed) {
  GORL_ASSIGN_OR_RETURN(
      std::vector<ShareBoard::Share> shares,
      RunShares([&](int n) { return SplitEval(episodes, deterministic, seed, n); }, "evaluate"));
  v1::EvalReport report;
  report.set_deterministic(deterministic);
  double sum = 0;
  for (const ShareBoard::Share& share : shares) {
    report.mutable_episode_returns()->Add(share.report.episode_returns().begin(),
                                          share.report.episode_returns().end());
    report.set_diverged_episodes(report.diverged_episodes() + share.report.diverged_episodes());
    report.set_encoder_version(share.report.encoder_version());
    for (float r : share.report.episode_returns()) sum += r;
  }
  if (deterministic && report.episode_returns_size() > 0) {
    metrics_.SetEvalReturn(sum / report.episode_returns_size());
  }
  metrics_.AddDivergedEpisodes(report.diverged_episodes());
  return report;
}

absl::StatusOr<std::vector<ShareBoard::Share>> ActorFleet::RunShares(
    const std::function<std::vector<v1::Work>(int)>& split, const char* what) {
  absl::MutexLock lock(&mu_);
  if (!AwaitActorsLocked(1, what)) return absl::CancelledError("learner is shutting down");
  auto last_log = Clock::now();
  const int shares =
      options_.work_shares > 0 ? options_.work_shares : static_cast<int>(sessions_.size());
  std::vector<v1::Work> works = split(shares);
  for (v1::Work& work : works) work.set_id(next_work_id_++);
  const size_t total = works.size();
  board_.Start(std::move(works));
  while (!board_.AllDone()) {
    if (shutdown_) {
      board_.Finish();
      return absl::CancelledError("learner is shutting down");
    }
    if (absl::Status arriving = CheckDataCanArriveLocked(); !arriving.ok()) {
      board_.Finish();
      return arriving;
    }
    const auto now = Clock::now();
    for (uint64_t owner : board_.Expire(now - options_.share_timeout)) {
      auto it = sessions_.find(owner);
      if (it == sessions_.end()) continue;
      LOG(WARNING) << "actor " << it->second.actor_id << " did not finish its " << what
                   << " share in " << options_.share_timeout.count()
                   << " s; giving it to another actor";
      AssignLocked(it->second, IdleWorkLocked());
    }
    for (auto& [number, session] : sessions_) {
      if (board_.Holds(number)) continue;
      const v1::Work* work = board_.Assign(number, now);
      if (work == nullptr) break;
      AssignLocked(session, *work);
    }
    if (now - last_log > kLogEvery) {
      last_log = now;
      LOG(INFO) << what << ": " << total - board_.pending() << "/" << total
                << " shares assigned or done, " << sessions_.size() << " actor(s) connected";
    }
    changed_.WaitWithTimeout(&mu_, kPoll);
  }
  return board_.Finish();
}

// ------------------------------------------------------------ lifecycle

void ActorFleet::Finish() {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    changed_.SignalAll();
  }
  queue_.Close();
}

void ActorFleet::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    changed_.SignalAll();
  }
  queue_.Close();
}

int ActorFleet::connected_actors() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

int ActorFleet::open_streams(StreamKind kind) const {
  absl::MutexLock lock(&mu_);
  int open = 0;
  for (const auto& [number, session] : sessions_) {
    open += kind == StreamKind::kPolicy ? session.policy_streams : session.send_streams;
  }
  return open;
}

bool ActorFleet::WaitForActorsToLeave(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  while (!sessions_.empty()) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return sessions_.empty();
  }
  return true;
}

// ------------------------------------------------------------ helpers

bool ActorFleet::AwaitActorsLocked(int count, const char* what) {
  auto last_log = Clock::now();
  while (static_cast<int>(sessions_.size()) < count && !shutdown_) {
    changed_.WaitWithTimeout(&mu_, kPoll);
    if (Clock::now() - last_log > kLogEvery) {
      last_log = Clock::now();
      LOG(INFO) << "waiting for " << count << " actor(s) to " << what << " (" << sessions_.size()
                << " connected)";
    }
  }
  return !shutdown_;
}

ActorFleet::Session* ActorFleet::FindLocked(uint64_t session, const std::string& actor_id,
                                            const std::string* peer) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.actor_id != actor_id) return nullptr;
  if (peer != nullptr && it->second.peer != *peer) return nullptr;
  return &it->second;
}

void ActorFleet::RemoveLocked(uint64_t session, const std::string& reason) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  const bool had_share = board_.Release(session);
  // Its send streams end now rather than when their peer closes them.
  for (auto& [slot, cancel] : it->second.send_cancels) cancel();
  LOG(INFO) << "actor " << it->second.actor_id << " disconnected: " << reason
            << (had_share ? "; its share goes back to the pool" : "");
  sessions_.erase(it);
  metrics_.SetConnectedActors(static_cast<double>(sessions_.size()));
  changed_.SignalAll();
}

void ActorFleet::AssignLocked(Session& session, v1::Work work) {
  session.work = std::move(work);
  ++session.work_generation;
  changed_.SignalAll();
}

v1::Work ActorFleet::IdleWorkLocked() const {
  v1::Work work;
  work.set_mode(mode_);
  return work;
}

void ActorFleet::NewTrainWorkLocked(int64_t sequences) {
  train_work_.Clear();
  train_work_.set_id(next_work_id_++);
  train_work_.set_mode(v1::ACTOR_MODE_TRAIN);
  train_work_.mutable_train()->set_unroll_length(train_unroll_length_);
  // Only sessions that follow their policy stream unroll; one that joined
  // and never opened it (it may never: the join timeout removes it) must
  // not shrink everyone else's budget.
  int64_t envs = 0;
  for (const auto& [number, session] : sessions_) {
    if (session.policy_opened) envs += session.num_envs;
  }
  if (options_.max_policy_lag == 0 && sequences > 0 && envs > 0) {
    // Every actor unrolls its envs once per round.
    train_work_.mutable_train()->set_max_unrolls(static_cast<int>((sequences + envs - 1) / envs));
  }
  paused_ = false;
  for (auto& [number, session] : sessions_) AssignLocked(session, train_work_);
}

}  // namespace gorl::runtime
