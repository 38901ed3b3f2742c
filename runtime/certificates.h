// A run's credentials made with OpenSSL's libcrypto (`gorl certs`, and the
// launcher's TCP fallback): a CA, a server certificate for the learner and
// the refiner, client certificates for the actors, and a run token.
//
//   <dir>/ (0700)  ca.pem ca.key  server.pem server.key  <client>.pem <client>.key  token
//                  every file 0600
//
// Keys are ECDSA P-256 (fast to make and to verify). The server certificate
// is also valid as a client certificate (the learner dials the refiner with
// it under mTLS). ca.key signs new certificates: keep it off the machines
// that run roles once every certificate is made.
#ifndef GORL_RUNTIME_CERTIFICATES_H_
#define GORL_RUNTIME_CERTIFICATES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gorl::runtime {

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

// A self-signed CA valid in [not_before, not_after].
absl::StatusOr<KeyAndCert> MakeCertificateAuthority(const std::string& common_name,
                                                    absl::Time not_before, absl::Time not_after);

struct CertificateRequest {
  std::string common_name;
  // Subject alternative names: IP addresses become IP SANs, the rest DNS.
  std::vector<std::string> hosts;
  bool server = false;  // serverAuth (and clientAuth) usage, else clientAuth only
  absl::Time not_before;
  absl::Time not_after;
};

// A key and a certificate signed by `ca`.
absl::StatusOr<KeyAndCert> IssueCertificate(const KeyAndCert& ca,
                                            const CertificateRequest& request);

// A run token "<id>.<secret>" with 256 random bits of secret.
absl::StatusOr<std::string> NewRunToken(const std::string& id);

struct RunCredentialsOptions {
  std::string out_dir;
  std::vector<std::string> hosts = {"learner", "refiner", "localhost", "127.0.0.1"};
  std::vector<std::string> clients = {"actor-0"};
  int days = 365;
  // Replace files a previous call made; without it any of them existing is
  // FailedPrecondition and nothing is written.
  bool force = false;
};

// Writes the files above (the directory made 0700 if needed).
absl::Status WriteRunCredentials(const RunCredentialsOptions& options);

// Writes `text` to `path` with mode 0600 (exclusive create unless
// `overwrite`).
absl::Status WriteSecretFile(const std::string& path, const std::string& text, bool overwrite);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_CERTIFICATES_H_
