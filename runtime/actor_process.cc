#include "runtime/actor_process.h"

#include <algorithm>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "runtime/grpc_util.h"
#include "runtime/message_ops.h"
#include "runtime/protocol.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// A session that lasted this long was a real connection: the next
// reconnect starts again from the initial backoff.
constexpr std::chrono::seconds kHealthySession(30);
// How long a join refused because the actor id is in use is retried. The
// old session of a restarted actor goes within the learner's keepalive
// (20 s) or join timeout (30 s, when it never opened its policy stream);
// past that, another live actor has the id and retrying cannot help.
constexpr std::chrono::seconds kIdInUseWait(60);
// The longest any wait of the loop goes without a heartbeat
// (gorl_heartbeat_timestamp_seconds): waiting for a learner that is
// restarting must not make the actor look dead; only a wedged loop (or one
// unroll, collect or eval share, or a send blocked by a full learner queue,
// that takes longer) does.
constexpr std::chrono::seconds kHeartbeatEvery(1);

// The session rides as call metadata, so that the learner checks it before
// it reads anything from the stream.
void AddSessionMetadata(grpc::ClientContext& context, const std::string& actor_id,
                        uint64_t session) {
  context.AddMetadata(kActorIdMetadata, actor_id);
  context.AddMetadata(kSessionMetadata, absl::StrCat(session));
}

uint64_t RandomIncarnation() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

// Identifies a snapshot's weights and normaliser; a snapshot that differs
// only in its work needs no new policy.
std::string PolicyKey(const v1::PolicySnapshot& s) {
  return absl::StrCat(s.encoder_version(), "/", s.stage(), "/", s.decoder().version(), "/",
                      s.normalizer().count(), "/", s.encoder().ByteSizeLong());
}

}  // namespace

ActorProcess::ActorProcess(ActorProcessOptions options, const envs::TaskFactory& factory,
                           RoleMetrics& metrics)
    : options_(std::move(options)),
      factory_(factory),
      metrics_(metrics),
      incarnation_(RandomIncarnation()),
      channel_(MakeChannel(options_.learner_address, options_.credentials)),
      stub_(v1::Learner::NewStub(channel_)),
      pacer_(options_.max_env_steps_per_second) {}

ActorProcess::~ActorProcess() = default;

void ActorProcess::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    changed_.SignalAll();
    if (active_send_context_ == nullptr) return;
  }
  // Leave first, so that the learner hears why; then cancel the Send stream,
  // which unblocks a Write stuck behind the learner's full queue. The
  // context stays valid while mu_ is held and it is registered.
  Leave();
  absl::MutexLock lock(&mu_);
  if (active_send_context_ != nullptr) active_send_context_->TryCancel();
}

void ActorProcess::Leave() {
  v1::LeaveRequest leave;
  {
    absl::MutexLock lock(&mu_);
    if (left_ || leave_session_ == 0) return;
    left_ = true;
    leave.set_actor_id(leave_actor_id_);
    leave.set_session(leave_session_);
  }
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(std::chrono::seconds(2)));
  leave.set_reason("actor stopped");
  v1::LeaveReply left;
  stub_->Leave(&context, leave, &left).ok();
}

bool ActorProcess::stopped() {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

absl::Status ActorProcess::Run() {
  Backoff backoff(options_.initial_backoff, options_.max_backoff, incarnation_);
  while (true) {
    metrics_.Heartbeat();
    const auto start = Clock::now();
    absl::Status status;
    switch (RunSession(status)) {
      case SessionEnd::kRunOver:
        LOG(INFO) << "the learner finished the run; exiting";
        return absl::OkStatus();
      case SessionEnd::kStopped:
        return absl::OkStatus();
      case SessionEnd::kRefused:
        return status;
      case SessionEnd::kLost:
        break;
    }
    if (Clock::now() - start > kHealthySession) backoff.Reset();
    const std::chrono::milliseconds delay = backoff.Next();
    LOG(WARNING) << "lost the learner at " << options_.learner_address << " (" << status
                 << "); reconnecting in " << delay.count() << " ms";
    const absl::Time deadline = absl::Now() + absl::FromChrono(delay);
    absl::MutexLock lock(&mu_);
    while (!stopped_ && absl::Now() < deadline) {
      changed_.WaitWithDeadline(
          &mu_, std::min(deadline, absl::Now() + absl::FromChrono(kHeartbeatEvery)));
      metrics_.Heartbeat();
    }
    if (stopped_) return absl::OkStatus();
  }
}

ActorProcess::SessionEnd ActorProcess::RunSession(absl::Status& status) {
  const envs::TaskSpec& spec = factory_.spec();
  v1::JoinRequest request;
  request.set_actor_id(options_.actor_id);
  request.set_task(spec.name);
  request.set_obs_size(spec.obs_size);
  request.set_action_size(spec.action_size);
  request.set_num_envs(options_.num_envs);
  request.set_protocol_version(kProtocolVersion);
  request.set_incarnation(incarnation_);
  v1::JoinReply reply;
  {
    // Wait for the learner in short slices, beating (kHeartbeatEvery).
    const auto join_deadline = Clock::now() + options_.join_timeout;
    while (Clock::now() < join_deadline && !stopped() &&
           !channel_->WaitForConnected(DeadlineIn(kHeartbeatEvery))) {
      metrics_.Heartbeat();
    }
    metrics_.Heartbeat();
    if (stopped()) return SessionEnd::kStopped;
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<Clock::duration>(join_deadline - Clock::now(), kHeartbeatEvery))));
    context.set_wait_for_ready(true);
    const grpc::Status joined = stub_->Join(&context, request, &reply);
    if (joined.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      // Something answers, but not a learner: retrying cannot help.
      metrics_.AddRpcError("Join");
      status = absl::FailedPreconditionError(absl::StrCat(
          "the server at ", options_.learner_address,
          " does not serve gorl.v1.Learner (UNIMPLEMENTED: ", joined.error_message(),
          "); is --learner the learner's address, not another role's (e.g. the refiner's)?"));
      LOG(ERROR) << status.message();
      return SessionEnd::kRefused;
    }
    if (joined.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      metrics_.AddRpcError("Join");
      status = FromGrpcStatus(joined);
      if (!id_in_use_since_.has_value()) id_in_use_since_ = Clock::now();
      if (Clock::now() - *id_in_use_since_ > kIdInUseWait) {
        LOG(ERROR) << "the learner refused the join for " << kIdInUseWait.count()
                   << " s: " << joined.error_message();
        return SessionEnd::kRefused;
      }
      LOG(WARNING) << "the learner refused the join (retrying for up to " << kIdInUseWait.count()
                   << " s, in case it is this actor's own old session): " << joined.error_message();
      return stopped() ? SessionEnd::kStopped : SessionEnd::kLost;
    }
    if (!joined.ok()) {
      metrics_.AddRpcError("Join");
      status = FromGrpcStatus(joined);
      // A refused certificate or token stays refused: retrying cannot help.
      const bool refused = joined.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
                           joined.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                           joined.error_code() == grpc::StatusCode::UNAUTHENTICATED;
      if (refused) LOG(ERROR) << "the learner refused the join: " << joined.error_message();
      return refused ? SessionEnd::kRefused
                     : (stopped() ? SessionEnd::kStopped : SessionEnd::kLost);
    }
  }
  id_in_use_since_.reset();
  actor_id_ = reply.actor_id();
  session_ = reply.session();
  {
    absl::MutexLock lock(&mu_);
    leave_actor_id_ = actor_id_;
    leave_session_ = session_;
    left_ = false;
  }
  last_done_work_ = 0;
  installed_policy_.clear();
  actor::WorkerOptions worker_options;
  worker_options.num_envs = options_.num_envs;
  worker_options.num_threads = options_.num_threads;
  worker_options.seed = reply.env_seed();
  absl::StatusOr<std::unique_ptr<actor::RolloutWorker>> worker =
      actor::RolloutWorker::Create(factory_, worker_options);
  if (!worker.ok()) {
    status = worker.status();
    return SessionEnd::kRefused;  // a local problem no reconnect can fix
  }
  worker_ = *std::move(worker);
  LOG(INFO) << "joined " << options_.learner_address << " as " << actor_id_ << " ("
            << options_.num_envs << " envs)";

  grpc::ClientContext policy_context;
  AddSessionMetadata(policy_context, actor_id_, session_);
  {
    absl::MutexLock lock(&mu_);
    latest_.reset();
    policy_stream_ended_ = false;
  }
  v1::PolicyRequest policy_request;
  policy_request.set_actor_id(actor_id_);
  policy_request.set_session(session_);
  std::unique_ptr<grpc::ClientReader<v1::PolicySnapshot>> reader =
      stub_->Policy(&policy_context, policy_request);
  std::thread policy_thread([this, &reader] { ReadPolicies(reader.get()); });

  SessionEnd end = SessionEnd::kLost;
  while (true) {
    v1::PolicySnapshot snapshot;
    {
      absl::MutexLock lock(&mu_);
      // Idle (no work, or a learner busy refining) is alive too.
      while (!stopped_ && !latest_.has_value() && !policy_stream_ended_) {
        changed_.WaitWithTimeout(&mu_, absl::FromChrono(kHeartbeatEvery));
        metrics_.Heartbeat();
      }
      if (stopped_) {
        end = SessionEnd::kStopped;
        break;
      }
      if (!latest_.has_value()) {  // the stream ended
        status = FromGrpcStatus(policy_status_);
        end = policy_status_.ok() ? SessionEnd::kRunOver : SessionEnd::kLost;
        if (!policy_status_.ok()) metrics_.AddRpcError("Policy");
        break;
      }
      snapshot = std::move(*latest_);
      latest_.reset();
    }
    status = InstallPolicy(snapshot);
    if (status.ok()) status = DoWork(snapshot.work());
    if (!status.ok()) {
      if (stopped()) {
        end = SessionEnd::kStopped;
      } else {
        LOG(WARNING) << "session " << session_ << " failed: " << status;
      }
      break;
    }
  }

  if (end == SessionEnd::kStopped) Leave();
  CloseSendStream();
  policy_context.TryCancel();
  policy_thread.join();
  worker_.reset();
  return end;
}

void ActorProcess::ReadPolicies(grpc::ClientReader<v1::PolicySnapshot>* reader) {
  v1::PolicySnapshot snapshot;
  while (reader->Read(&snapshot)) {
    absl::MutexLock lock(&mu_);
    latest_ = std::move(snapshot);  // only the newest matters
    changed_.SignalAll();
  }
  const grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  policy_stream_ended_ = true;
  policy_status_ = status;
  changed_.SignalAll();
}

void ActorProcess::AwaitPacerTurn() {
  if (!pacer_.capped()) return;
  const Clock::time_point turn = pacer_.NextStart();
  absl::MutexLock lock(&mu_);
  while (!stopped_) {
    const Clock::time_point now = Clock::now();
    if (now >= turn) return;
    // changed_ also wakes on new snapshots; the loop waits on regardless.
    changed_.WaitWithTimeout(
        &mu_, absl::FromChrono(std::min<Clock::duration>(turn - now, kHeartbeatEvery)));
    metrics_.Heartbeat();
  }
}

bool ActorProcess::NewSnapshotWaiting() {
  absl::MutexLock lock(&mu_);
  return stopped_ || latest_.has_value() || policy_stream_ended_;
}

absl::Status ActorProcess::InstallPolicy(const v1::PolicySnapshot& snapshot) {
  const std::string key = PolicyKey(snapshot);
  if (key == installed_policy_) return absl::OkStatus();
  GORL_RETURN_IF_ERROR(worker_->SetPolicy(snapshot));
  installed_policy_ = key;
  metrics_.SetPolicyVersion(static_cast<double>(snapshot.encoder_version()));
  metrics_.SetStage(snapshot.stage());
  return absl::OkStatus();
}

absl::Status ActorProcess::DoWork(const v1::Work& work) {
  metrics_.Heartbeat();
  if (work.id() == 0 || work.id() == last_done_work_) return absl::OkStatus();  // idle
  v1::ActorMessage message;
  message.set_actor_id(actor_id_);
  message.set_session(session_);
  message.set_work_id(work.id());
  switch (work.assignment_case()) {
    case v1::Work::kTrain: {
      const int length = work.train().unroll_length();
      const int budget = work.train().max_unrolls();
      // Unroll until the budget is spent (then the work is done) or the
      // learner says something new.
      for (int unrolls = 0; budget == 0 || unrolls < budget; ++unrolls) {
        metrics_.Heartbeat();
        // Waiting comes before the snapshot check, so that the unroll after
        // the wait uses the newest policy.
        AwaitPacerTurn();
        if (NewSnapshotWaiting()) return absl::OkStatus();
        const auto start = Clock::now();
        absl::StatusOr<v1::Rollout> rollout = worker_->Unroll(length);
        if (!rollout.ok()) return rollout.status();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const double steps = static_cast<double>(length) * rollout->num_envs();
        pacer_.Record(start, steps);
        metrics_.AddEnvSteps(steps);
        metrics_.SetStepsPerSecond(steps / std::max(seconds, 1e-9));
        // Per batched step: encoder + decoder inference on every env, and
        // the env step itself (the worker does not time them apart).
        metrics_.ObserveInferenceSeconds(seconds / length);
        if (rollout->episode_returns_size() > 0) {
          double sum = 0;
          for (float r : rollout->episode_returns()) sum += r;
          metrics_.AddEpisodes(rollout->episode_returns_size());
          metrics_.SetEpisodeReturn(sum / rollout->episode_returns_size());
        }
        if (rollout->diverged_episodes() > 0) {
          metrics_.AddDivergedEpisodes(rollout->diverged_episodes());
        }
        *message.mutable_rollout() = *std::move(rollout);
        if (absl::Status sent = SendMessage(message); !sent.ok()) return sent;
      }
      break;
    }
    case v1::Work::kCollect: {
      const v1::CollectWork& collect = work.collect();
      absl::StatusOr<v1::RefinementData> data =
          worker_->Collect(collect.pairs(), collect.num_envs(), collect.seed());
      if (!data.ok()) return data.status();
      metrics_.AddEnvSteps(static_cast<double>(collect.pairs()));
      std::vector<v1::RefinementData> chunks = SplitPairs(*data, kChunkBytes);
      for (size_t i = 0; i < chunks.size(); ++i) {
        *message.mutable_refinement() = std::move(chunks[i]);
        message.set_last_chunk(i + 1 == chunks.size());
        if (absl::Status sent = SendMessage(message); !sent.ok()) return sent;
      }
      break;
    }
    case v1::Work::kEval: {
      const v1::EvalWork& eval = work.eval();
      absl::StatusOr<v1::EvalReport> report =
          worker_->Evaluate(eval.episodes(), eval.deterministic(), eval.seed());
      if (!report.ok()) return report.status();
      *message.mutable_eval_report() = *std::move(report);
      if (absl::Status sent = SendMessage(message); !sent.ok()) return sent;
      break;
    }
    case v1::Work::ASSIGNMENT_NOT_SET:
      return absl::OkStatus();
  }
  last_done_work_ = work.id();
  return absl::OkStatus();
}

absl::Status ActorProcess::SendMessage(const v1::ActorMessage& message) {
  if (send_writer_ == nullptr) {
    send_context_ = std::make_unique<grpc::ClientContext>();
    AddSessionMetadata(*send_context_, actor_id_, session_);
    send_summary_.Clear();
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return absl::CancelledError("actor stopped");
      active_send_context_ = send_context_.get();
    }
    send_writer_ = stub_->Send(send_context_.get(), &send_summary_);
  }
  if (send_writer_->Write(message)) return absl::OkStatus();
  // The stream is over; its status says why.
  const grpc::Status status = send_writer_->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_send_context_ = nullptr;
  }
  send_writer_.reset();
  send_context_.reset();
  metrics_.AddRpcError("Send");
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // Everything before the bad message was kept; carry on with a new stream.
    LOG(WARNING) << "the learner refused a message: " << status.error_message();
    return absl::OkStatus();
  }
  return FromGrpcStatus(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                   "the learner closed the send stream")
                                    : status);
}

void ActorProcess::CloseSendStream() {
  if (send_writer_ == nullptr) return;
  // Nothing left to deliver: do not wait behind a full learner queue.
  send_context_->TryCancel();
  send_writer_->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_send_context_ = nullptr;
  }
  send_writer_.reset();
  send_context_.reset();
}

}  // namespace gorl::runtime
