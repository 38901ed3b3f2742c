#include "runtime/auth_processor.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gorl::runtime {
namespace {

// Distinct peers whose refusal is logged; later ones are only counted.
constexpr size_t kMaxLoggedPeers = 256;

constexpr char kBearerPrefix[] = "Bearer ";

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(const std::string& text) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string FirstValue(const grpc::AuthContext& context, const char* name) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Every certificate in a PEM text (a bundle or a chain).
std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return certs;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the text reads as an error
  BIO_free(bio);
  return certs;
}

}  // namespace

struct RunAuthProcessor::Store {
  X509_STORE* store = X509_STORE_new();
  ~Store() { X509_STORE_free(store); }
};

absl::StatusOr<std::shared_ptr<RunAuthProcessor>> RunAuthProcessor::Create(
    const std::string& ca_pem, bool mtls, std::vector<RunToken> tokens, RoleMetrics* metrics) {
  auto store = std::make_unique<Store>();
  if (mtls) {
    std::vector<X509Ptr> cas = ReadCertificates(ca_pem);
    if (cas.empty()) {
      return absl::InvalidArgumentError("--mtls: no certificate in the --tls_ca file");
    }
    for (const X509Ptr& ca : cas) X509_STORE_add_cert(store->store, ca.get());
  }
  return std::shared_ptr<RunAuthProcessor>(
      new RunAuthProcessor(std::move(store), mtls, std::move(tokens), metrics));
}

RunAuthProcessor::RunAuthProcessor(std::unique_ptr<Store> store, bool mtls,
                                   std::vector<RunToken> tokens, RoleMetrics* metrics)
    : store_(std::move(store)), mtls_(mtls), tokens_(std::move(tokens)), metrics_(metrics) {}

RunAuthProcessor::~RunAuthProcessor() = default;

std::string RunAuthProcessor::VerifyClientCert(const std::string& pem_cert,
                                               const std::string& pem_chain) const {
  std::vector<X509Ptr> leaf = ReadCertificates(pem_cert);
  if (leaf.empty()) return "unreadable client certificate";
  std::vector<X509Ptr> chain = ReadCertificates(pem_chain);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const X509Ptr& cert : chain) sk_X509_push(untrusted, cert.get());
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  std::string error;
  if (context == nullptr ||
      X509_STORE_CTX_init(context, store_->store, leaf.front().get(), untrusted) != 1) {
    error = "cannot verify the client certificate (out of memory?)";
  } else {
    X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(context) != 1) {
      error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(context));
    }
  }
  X509_STORE_CTX_free(context);
  sk_X509_free(untrusted);  // the certificates belong to `chain`
  ERR_clear_error();
  return error;
}

grpc::Status RunAuthProcessor::Refuse(const char* reason, const std::string& who,
                                      const std::string& message) {
  if (metrics_ != nullptr) metrics_->AddAuthFailure(reason);
  bool log = false;
  bool log_limit = false;
  {
    absl::MutexLock lock(&mu_);
    const std::string key = absl::StrCat(reason, "/", who);
    if (logged_.size() < kMaxLoggedPeers) {
      log = logged_.insert(key).second;
    } else if (logged_.size() == kMaxLoggedPeers) {
      logged_.insert("");  // one more entry marks "limit reached"
      log_limit = true;
    }
  }
  if (log) LOG(WARNING) << "refused a call from " << who << ": " << message;
  if (log_limit) {
    LOG(WARNING) << "refused calls from " << kMaxLoggedPeers
                 << " distinct peers; further refusals are only counted "
                    "(gorl_auth_failures_total)";
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, message);
}

grpc::Status RunAuthProcessor::Process(const InputMetadata& auth_metadata,
                                       grpc::AuthContext* context,
                                       OutputMetadata* consumed_auth_metadata,
                                       OutputMetadata* /*response_metadata*/) {
  std::string who = FirstValue(*context, GRPC_X509_CN_PROPERTY_NAME);
  if (mtls_) {
    const std::string cert = FirstValue(*context, GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (cert.empty()) {
      return Refuse(kReasonNoClientCert, "a client without a certificate",
                    "this server requires a client certificate from the run's CA (mTLS): pass "
                    "--tls_cert and --tls_key");
    }
    const std::string error =
        VerifyClientCert(cert, FirstValue(*context, GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME));
    if (!error.empty()) {
      return Refuse(kReasonBadClientCert, absl::StrCat("certificate CN '", who, "'"),
                    absl::StrCat("client certificate refused: ", error,
                                 " (it must chain to the run's CA and be valid now)"));
    }
  } else {
    who.clear();  // an unverified certificate names nobody
  }
  if (tokens_.empty()) return grpc::Status::OK;

  const auto found = auth_metadata.find(kAuthorizationKey);
  if (found == auth_metadata.end()) {
    return Refuse(kReasonMissingToken, who.empty() ? "a client without a token" : who,
                  "this server requires the run token: set GORL_TOKEN_FILE or pass --token_file");
  }
  const std::string value(found->second.data(), found->second.size());
  const std::string text =
      absl::StartsWith(value, kBearerPrefix) ? value.substr(sizeof(kBearerPrefix) - 1) : value;
  absl::StatusOr<RunToken> presented = ParseRunToken(text);
  const RunToken* match = nullptr;
  if (presented.ok()) {
    const Digest digest = Sha256(presented->secret);
    for (const RunToken& token : tokens_) {
      // Compare digests, so that the time taken says nothing about the
      // secret (not even its length).
      const Digest expected = Sha256(token.secret);
      if (token.id == presented->id &&
          CRYPTO_memcmp(digest.data(), expected.data(), digest.size()) == 0) {
        match = &token;
      }
    }
  }
  if (match == nullptr) {
    const std::string claimed = presented.ok() ? presented->id : "a malformed token";
    return Refuse(kReasonWrongToken, who.empty() ? absl::StrCat("token id '", claimed, "'") : who,
                  "wrong run token (it must be a line of the server's token file)");
  }
  consumed_auth_metadata->emplace(std::string(found->first.data(), found->first.size()), value);
  context->AddProperty(kTokenIdProperty, match->id);
  return grpc::Status::OK;
}

}  // namespace gorl::runtime
