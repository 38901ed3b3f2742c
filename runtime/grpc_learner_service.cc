#include "runtime/grpc_learner_service.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/grpc_util.h"
#include "runtime/message_ops.h"
#include "runtime/protocol.h"
#include "runtime/seeds.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// How often waiting loops re-check cancellation, and how often they log
// that they are still waiting.
constexpr std::chrono::milliseconds kPoll(200);
constexpr std::chrono::seconds kLogEvery(10);
// A gather that received nothing for a while re-issues train work: the
// unroll budgets did not cover the batch (an actor left, or rollouts were
// dropped). The wait is twice the longest gap between two rollouts in the
// previous gather (within these bounds), so that it rarely makes actors
// unroll more than needed.
constexpr std::chrono::seconds kMinTopUpAfter(2);
constexpr std::chrono::seconds kMaxTopUpAfter(60);

}  // namespace

// Forwards the generated service's handlers to the group.
class GrpcActorGroup::Service final : public v1::Learner::Service {
 public:
  explicit Service(GrpcActorGroup& group) : group_(group) {}
  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                    v1::JoinReply* reply) override {
    return group_.Join(context, *request, reply);
  }
  grpc::Status Policy(grpc::ServerContext* context, const v1::PolicyRequest* request,
                      grpc::ServerWriter<v1::PolicySnapshot>* writer) override {
    return group_.Policy(context, *request, writer);
  }
  grpc::Status Send(grpc::ServerContext* context, grpc::ServerReader<v1::ActorMessage>* reader,
                    v1::SendSummary* summary) override {
    return group_.Send(context, reader, summary);
  }
  grpc::Status Leave(grpc::ServerContext* context, const v1::LeaveRequest* request,
                     v1::LeaveReply* reply) override {
    return group_.Leave(context, *request, reply);
  }

 private:
  GrpcActorGroup& group_;
};

GrpcActorGroup::GrpcActorGroup(ActorGroupOptions options, RoleMetrics& metrics)
    : options_(std::move(options)),
      shape_{options_.obs_size, options_.action_size},
      metrics_(metrics),
      service_(std::make_unique<Service>(*this)),
      queue_(options_.queue_capacity),
      train_unroll_length_(options_.unroll_length) {
  metrics_.SetQueueCapacity(static_cast<double>(std::max<int64_t>(1, options_.queue_capacity)));
}

GrpcActorGroup::~GrpcActorGroup() { Shutdown(); }

grpc::Service* GrpcActorGroup::service() { return service_.get(); }

// ------------------------------------------------------------ handlers

grpc::Status GrpcActorGroup::Join(grpc::ServerContext* context, const v1::JoinRequest& request,
                                  v1::JoinReply* reply) {
  const std::string who = request.actor_id().empty() ? context->peer() : request.actor_id();
  auto refuse = [&](grpc::StatusCode code, const std::string& message) {
    LOG(WARNING) << "refused join of " << who << ": " << message;
    metrics_.AddRpcError("Join");
    return grpc::Status(code, message);
  };
  if (request.protocol_version() != kProtocolVersion) {
    return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  absl::StrCat("protocol version mismatch: actor speaks ",
                               request.protocol_version(), ", learner speaks ", kProtocolVersion));
  }
  if (request.task() != options_.task) {
    return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  absl::StrCat("task mismatch: actor runs '", request.task(),
                               "', learner trains '", options_.task, "'"));
  }
  if (request.obs_size() != options_.obs_size || request.action_size() != options_.action_size) {
    return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  absl::StrCat("size mismatch: actor has obs_size ", request.obs_size(),
                               " / action_size ", request.action_size(), ", learner has obs_size ",
                               options_.obs_size, " / action_size ", options_.action_size));
  }
  if (request.num_envs() <= 0 || request.num_envs() > options_.max_actor_envs) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("num_envs ", request.num_envs(), " must be in [1, ",
                               options_.max_actor_envs, "]"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "learner is shutting down");
  if (finished_) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the run is over");
  const std::string id =
      request.actor_id().empty() ? absl::StrCat("actor-", joins_) : request.actor_id();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->second.actor_id == id) {
      RemoveLocked(it->first, "replaced by a new join with the same id");
      break;
    }
  }
  const uint64_t number = next_session_++;
  Session& session = sessions_[number];
  session.actor_id = id;
  session.incarnation = request.incarnation();
  session.num_envs = request.num_envs();
  session.peer = context->peer();
  session.work = mode_ == v1::ACTOR_MODE_TRAIN && !paused_ ? train_work_ : IdleWorkLocked();
  reply->set_actor_id(id);
  reply->set_session(number);
  reply->set_env_seed(ActorEnvSeed(options_.run_seed, joins_++));
  metrics_.SetConnectedActors(static_cast<double>(sessions_.size()));
  LOG(INFO) << "actor " << id << " joined from " << session.peer << " with "
            << request.num_envs() << " envs (session " << number << ", "
            << sessions_.size() << " connected)";
  changed_.notify_all();
  return grpc::Status::OK;
}

grpc::Status GrpcActorGroup::Policy(grpc::ServerContext* context,
                                    const v1::PolicyRequest& request,
                                    grpc::ServerWriter<v1::PolicySnapshot>* writer) {
  std::unique_lock<std::mutex> lock(mu_);
  if (FindLocked(request.session(), request.actor_id()) == nullptr) {
    metrics_.AddRpcError("Policy");
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("actor '", request.actor_id(), "' (session ",
                                     request.session(), ") has not joined; join again"));
  }
  uint64_t sent_snapshot = 0, sent_work = 0;
  while (true) {
    Session* session = FindLocked(request.session(), request.actor_id());
    const bool news = session != nullptr && snapshot_ != nullptr &&
                      (snapshot_generation_ != sent_snapshot ||
                       session->work_generation != sent_work);
    if (!news && !shutdown_ && !finished_ && session != nullptr) {
      changed_.wait_for(lock, kPoll);
      // The liveness check of this stream: a vanished actor cancels it.
      if (context->IsCancelled()) {
        RemoveLocked(request.session(), "its policy stream was cancelled");
        return grpc::Status::CANCELLED;
      }
      continue;
    }
    if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "learner is shutting down");
    if (finished_) return grpc::Status::OK;
    if (session == nullptr) {
      return grpc::Status(grpc::StatusCode::ABORTED, "session replaced or removed; join again");
    }
    std::shared_ptr<const v1::PolicySnapshot> snapshot = snapshot_;
    v1::Work work = session->work;
    sent_snapshot = snapshot_generation_;
    sent_work = session->work_generation;
    lock.unlock();
    v1::PolicySnapshot message = *snapshot;
    *message.mutable_work() = std::move(work);
    const bool written = writer->Write(message);
    lock.lock();
    if (!written) {
      RemoveLocked(request.session(), "its policy stream broke");
      return grpc::Status::CANCELLED;
    }
  }
}

grpc::Status GrpcActorGroup::Send(grpc::ServerContext* context,
                                  grpc::ServerReader<v1::ActorMessage>* reader,
                                  v1::SendSummary* summary) {
  v1::ActorMessage message;
  while (reader->Read(&message)) {
    summary->set_messages(summary->messages() + 1);
    const absl::Status status = HandleMessage(context, message, *summary);
    if (!status.ok()) {
      metrics_.AddRpcError("Send");
      if (status.code() != absl::StatusCode::kCancelled) {
        LOG(WARNING) << "Send from actor '" << message.actor_id() << "' refused: " << status;
      }
      return ToGrpcStatus(status);
    }
  }
  if (context->IsCancelled()) {
    // The actor vanished mid-stream; whatever it held must go to others.
    std::lock_guard<std::mutex> lock(mu_);
    if (FindLocked(message.session(), message.actor_id()) != nullptr) {
      RemoveLocked(message.session(),
                   finished_ ? "the run is over" : "its send stream broke");
    }
    return grpc::Status::CANCELLED;
  }
  return grpc::Status::OK;
}

grpc::Status GrpcActorGroup::Leave(grpc::ServerContext* context, const v1::LeaveRequest& request,
                                   v1::LeaveReply* reply) {
  std::lock_guard<std::mutex> lock(mu_);
  if (FindLocked(request.session(), request.actor_id()) == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("actor '", request.actor_id(), "' (session ",
                                     request.session(), ") is not connected"));
  }
  RemoveLocked(request.session(),
               absl::StrCat("it left (", request.reason().empty() ? "no reason" : request.reason(),
                            ")"));
  return grpc::Status::OK;
}

absl::Status GrpcActorGroup::HandleMessage(grpc::ServerContext* context,
                                           v1::ActorMessage& message, v1::SendSummary& summary) {
  int num_envs = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Session* session = FindLocked(message.session(), message.actor_id());
    if (session == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("actor '", message.actor_id(), "' (session ", message.session(),
                       ") has not joined or was removed; join again"));
    }
    num_envs = session->num_envs;
  }
  const std::string prefix = absl::StrCat("actor '", message.actor_id(), "': ");
  switch (message.payload_case()) {
    case v1::ActorMessage::kRollout: {
      const absl::Status valid = CheckRollout(message.rollout(), shape_, num_envs);
      if (!valid.ok()) return absl::InvalidArgumentError(prefix + std::string(valid.message()));
      metrics_.AddRolloutsReceived(1);
      switch (queue_.Push(std::move(*message.mutable_rollout()),
                          [context] { return context->IsCancelled(); })) {
        case RolloutQueue::PushResult::kQueued:
          summary.set_rollouts_accepted(summary.rollouts_accepted() + 1);
          break;
        case RolloutQueue::PushResult::kStale:
        case RolloutQueue::PushResult::kFull:
          summary.set_rollouts_dropped(summary.rollouts_dropped() + 1);
          metrics_.AddStaleRolloutsDropped(1);
          break;
        case RolloutQueue::PushResult::kClosed: {
          std::lock_guard<std::mutex> lock(mu_);
          return finished_ ? absl::CancelledError("the run is over")
                           : absl::UnavailableError("learner is shutting down");
        }
        case RolloutQueue::PushResult::kCancelled:
          return absl::CancelledError("the actor went away");
      }
      metrics_.SetQueueDepth(static_cast<double>(queue_.queued_sequences()));
      return absl::OkStatus();
    }
    case v1::ActorMessage::kRefinement: {
      const absl::Status valid = CheckRefinementData(message.refinement(), shape_);
      if (!valid.ok()) return absl::InvalidArgumentError(prefix + std::string(valid.message()));
      return HandleResult(message.session(), message, summary);
    }
    case v1::ActorMessage::kEvalReport:
      return HandleResult(message.session(), message, summary);
    case v1::ActorMessage::PAYLOAD_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(prefix + "message without payload");
}

absl::Status GrpcActorGroup::HandleResult(uint64_t session, const v1::ActorMessage& message,
                                          v1::SendSummary& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  ShareBoard::Share* share = board_.Find(message.work_id(), session);
  // Work that moved on (timed out, reassigned, job over) is no error.
  if (share == nullptr) return absl::OkStatus();
  const std::string prefix =
      absl::StrCat("actor '", message.actor_id(), "', work ", message.work_id(), ": ");
  // A bad result puts the share back for someone else before refusing.
  auto refuse = [&](const std::string& why) {
    board_.Release(session);
    changed_.notify_all();
    return absl::InvalidArgumentError(prefix + why);
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
  changed_.notify_all();
  return absl::OkStatus();
}

// ------------------------------------------------------- ActorGroup API

absl::Status GrpcActorGroup::Broadcast(const v1::PolicySnapshot& snapshot) {
  int64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    changed_.notify_all();
  }
  if (dropped > 0) metrics_.AddStaleRolloutsDropped(static_cast<double>(dropped));
  metrics_.SetPolicyVersion(static_cast<double>(snapshot.encoder_version()));
  metrics_.SetStage(snapshot.stage());
  metrics_.SetQueueDepth(static_cast<double>(queue_.queued_sequences()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Rollout>> GrpcActorGroup::GatherRollouts(int64_t sequences,
                                                                        int unroll_length) {
  int64_t version = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // New work if the length or batch changed, or to resume actors paused
    // after the previous gather (a second gather without a Broadcast).
    if (unroll_length != train_unroll_length_ || sequences != batch_sequences_ || paused_) {
      train_unroll_length_ = unroll_length;
      batch_sequences_ = sequences;
      if (mode_ == v1::ACTOR_MODE_TRAIN) NewTrainWorkLocked(sequences);
    }
    version = current_version_;
  }
  std::vector<v1::Rollout> rollouts;
  int64_t have = 0, max_lag = 0, dropped = 0, episodes = 0;
  double return_sum = 0;
  auto last_log = Clock::now(), last_rollout = Clock::now();
  const Clock::duration top_up_after = std::clamp<Clock::duration>(
      2 * longest_rollout_gap_, kMinTopUpAfter, kMaxTopUpAfter);
  Clock::duration longest_gap = Clock::duration::zero();
  while (have < sequences) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return absl::CancelledError("learner is shutting down");
      // Unroll budgets ran out short (an actor left or its rollouts were
      // dropped): grant the rest to whoever is connected.
      const int64_t missing = sequences - have - queue_.queued_sequences();
      if (options_.max_policy_lag == 0 && mode_ == v1::ACTOR_MODE_TRAIN && missing > 0 &&
          Clock::now() - last_rollout > top_up_after) {
        NewTrainWorkLocked(missing);
        last_rollout = Clock::now();
      }
    }
    std::optional<v1::Rollout> popped = queue_.Pop(kPoll);
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
      queue_.PushFront(SliceEnvs(rollout, static_cast<int>(need),
                                 rollout.num_envs() - static_cast<int>(need)));
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
    std::lock_guard<std::mutex> lock(mu_);
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

absl::StatusOr<v1::RefinementData> GrpcActorGroup::Collect(int64_t pairs, int num_envs,
                                                           uint64_t seed) {
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

absl::StatusOr<v1::EvalReport> GrpcActorGroup::Evaluate(int episodes, bool deterministic,
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

absl::StatusOr<std::vector<ShareBoard::Share>> GrpcActorGroup::RunShares(
    const std::function<std::vector<v1::Work>(int)>& split, const char* what) {
  std::unique_lock<std::mutex> lock(mu_);
  auto last_log = Clock::now();
  while (sessions_.empty() && !shutdown_) {
    changed_.wait_for(lock, kPoll);
    if (Clock::now() - last_log > kLogEvery) {
      last_log = Clock::now();
      LOG(INFO) << "no actor connected; waiting for one to " << what;
    }
  }
  if (shutdown_) return absl::CancelledError("learner is shutting down");
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
    changed_.wait_for(lock, kPoll);
  }
  return board_.Finish();
}

// ------------------------------------------------------------ lifecycle

void GrpcActorGroup::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    changed_.notify_all();
  }
  queue_.Close();
}

void GrpcActorGroup::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    changed_.notify_all();
  }
  queue_.Close();
}

int GrpcActorGroup::connected_actors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(sessions_.size());
}

bool GrpcActorGroup::WaitForActorsToLeave(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return sessions_.empty(); });
}

// ------------------------------------------------------------ helpers

GrpcActorGroup::Session* GrpcActorGroup::FindLocked(uint64_t session,
                                                    const std::string& actor_id) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.actor_id != actor_id) return nullptr;
  return &it->second;
}

void GrpcActorGroup::RemoveLocked(uint64_t session, const std::string& reason) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  const bool had_share = board_.Release(session);
  LOG(INFO) << "actor " << it->second.actor_id << " (session " << session
            << ") disconnected: " << reason
            << (had_share ? "; its share goes back to the pool" : "");
  sessions_.erase(it);
  metrics_.SetConnectedActors(static_cast<double>(sessions_.size()));
  changed_.notify_all();
}

void GrpcActorGroup::AssignLocked(Session& session, v1::Work work) {
  session.work = std::move(work);
  ++session.work_generation;
  changed_.notify_all();
}

v1::Work GrpcActorGroup::IdleWorkLocked() const {
  v1::Work work;
  work.set_mode(mode_);
  return work;
}

void GrpcActorGroup::NewTrainWorkLocked(int64_t sequences) {
  train_work_.Clear();
  train_work_.set_id(next_work_id_++);
  train_work_.set_mode(v1::ACTOR_MODE_TRAIN);
  train_work_.mutable_train()->set_unroll_length(train_unroll_length_);
  int64_t envs = 0;
  for (const auto& [number, session] : sessions_) envs += session.num_envs;
  if (options_.max_policy_lag == 0 && sequences > 0 && envs > 0) {
    // Every actor unrolls its envs once per round.
    train_work_.mutable_train()->set_max_unrolls(static_cast<int>((sequences + envs - 1) / envs));
  }
  paused_ = false;
  for (auto& [number, session] : sessions_) AssignLocked(session, train_work_);
}

}  // namespace gorl::runtime
