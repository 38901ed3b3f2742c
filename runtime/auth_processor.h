// The server side of authentication: a grpc::AuthMetadataProcessor that
// runs before every call on a TLS port and refuses it with UNAUTHENTICATED
// when the client certificate (mTLS) or the run token is missing or wrong.
//
// Why client certificates are verified here and not in the TLS handshake:
// a handshake refusal is invisible to the application (nothing to count or
// log, and the client only sees UNAVAILABLE). So under mTLS the server
// *requests* a client certificate without letting the handshake verify it
// (TLS still proves the client holds the certificate's key), and this
// processor verifies the chain against the run's CA with OpenSSL (expiry
// included): the refusal is counted (gorl_auth_failures_total{reason}),
// logged once per peer, and the client gets a status that says why.
#ifndef GORL_RUNTIME_AUTH_PROCESSOR_H_
#define GORL_RUNTIME_AUTH_PROCESSOR_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

// The auth-context property holding the id of the token a call presented.
inline constexpr char kTokenIdProperty[] = "gorl_token_id";
// The metadata key the token travels in ("authorization: Bearer <id>.<secret>").
inline constexpr char kAuthorizationKey[] = "authorization";

// Refusal reasons, the `reason` label of gorl_auth_failures_total.
inline constexpr char kReasonNoClientCert[] = "no_client_cert";
inline constexpr char kReasonBadClientCert[] = "bad_client_cert";
inline constexpr char kReasonMissingToken[] = "missing_token";
inline constexpr char kReasonWrongToken[] = "wrong_token";

class RunAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // Checks client certificates against `ca_pem` when `mtls`, and tokens
  // when `tokens` is not empty. `metrics` may be null; it must outlive the
  // processor (the server).
  static absl::StatusOr<std::shared_ptr<RunAuthProcessor>> Create(const std::string& ca_pem,
                                                                  bool mtls,
                                                                  std::vector<RunToken> tokens,
                                                                  RoleMetrics* metrics);
  ~RunAuthProcessor() override;

  // Cheap (a hash compare, one chain verification): runs on gRPC's thread.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  struct Store;  // the CA as an OpenSSL X509_STORE
  RunAuthProcessor(std::unique_ptr<Store> store, bool mtls, std::vector<RunToken> tokens,
                   RoleMetrics* metrics);
  // "" when `pem_cert` (with its `pem_chain`) chains to the CA, else why not.
  std::string VerifyClientCert(const std::string& pem_cert, const std::string& pem_chain) const;
  grpc::Status Refuse(const char* reason, const std::string& who, const std::string& message);

  const std::unique_ptr<Store> store_;
  const bool mtls_;
  const std::vector<RunToken> tokens_;
  RoleMetrics* const metrics_;
  // Peers already logged, so that a client retrying with a wrong token
  // fills neither the log nor memory (bounded; beyond it, not logged).
  absl::Mutex mu_;
  std::set<std::string> logged_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_AUTH_PROCESSOR_H_
