// How the roles protect their gRPC channels: TLS with gRPC's own
// credentials on every TCP channel, optional mutual TLS, and a run token
// sent as call credentials. docs/security.md has the threat model.
//
//   flags / env --LoadTransportSecurity--> TransportSecurity (files read once, checked)
//     server: ServerCredentialsFor(address) -- TLS cert + key; with --mtls or a token an
//             auth processor (runtime/auth_processor.h) checks every call
//     client: ChannelCredentialsFor(address) -- verifies the server against the CA, sends
//             its own cert (mTLS) and the token
//
// Unix-socket addresses ("unix:PATH") stay plaintext and unauthenticated:
// the launcher puts them in a private 0700 directory, so only this user can
// connect. A TCP address without TLS is refused unless `insecure` is set:
// plaintext on a network lets anyone join as an actor, inject rollouts and
// read the weights.
//
// Certificates and the token are read once at start-up; a role picks up new
// ones when it is restarted.
#ifndef GORL_RUNTIME_TRANSPORT_SECURITY_H_
#define GORL_RUNTIME_TRANSPORT_SECURITY_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"

namespace gorl::runtime {

// What the user passed (paths, not contents). The token never comes from a
// flag value (it would show in `ps`): from token_file, else the file named
// by $GORL_TOKEN_FILE, else $GORL_TOKEN.
struct TransportSecurityFlags {
  std::string tls_ca;           // PEM: the CA that peers' certificates must chain to
  std::string tls_cert;         // PEM: this process's certificate (server, and client for mTLS)
  std::string tls_key;          // PEM: its private key
  bool mtls = false;            // servers accept only clients with a certificate from tls_ca
  std::string tls_server_name;  // name to verify in the server's cert ("" = the host dialled)
  std::string token_file;       // run token(s), one "<id>.<secret>" per line
  bool insecure = false;        // allow plaintext TCP (no TLS, no token)
};

// One accepted token: the id is public (it names the peer in logs and
// metrics), the secret is compared in constant time.
struct RunToken {
  std::string id;
  std::string secret;
  std::string text() const { return id + "." + secret; }
};

// Parses "<id>.<secret>": id [A-Za-z0-9_-]{1,64}, secret at least 16
// characters of [A-Za-z0-9_-]. InvalidArgument otherwise (the message never
// contains the secret).
absl::StatusOr<RunToken> ParseRunToken(const std::string& text);

// A process's transport security, loaded and checked once.
struct TransportSecurity {
  std::string ca_pem, cert_pem, key_pem;
  bool mtls = false;
  std::string server_name;
  bool insecure = false;
  // Tokens a server accepts; a client sends the first. Empty: no token.
  std::vector<RunToken> tokens;

  // Plaintext everywhere (Unix sockets in a private directory, tests).
  static TransportSecurity Insecure();
  bool tls() const { return !cert_pem.empty() || !ca_pem.empty(); }
};

// Reads the files and the environment; a missing or unreadable file, a
// malformed PEM or token, a key that does not match the certificate, or
// contradictory flags (--insecure with TLS files or a token, --mtls without
// a CA) are errors that name the flag.
absl::StatusOr<TransportSecurity> LoadTransportSecurity(const TransportSecurityFlags& flags);

// True for "unix:..." addresses (plaintext by design).
bool IsUnixSocketAddress(const std::string& address);

// Server credentials for `address`: plaintext for a Unix socket or under
// --insecure; TLS (with the auth processor when mTLS or a token is on,
// counting refusals in `metrics`, which may be null and must outlive the
// server) otherwise. A TCP address without a certificate and key and
// without --insecure is InvalidArgument (exit 2), saying what to pass.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const TransportSecurity& security, RoleMetrics* metrics);

// Channel credentials for dialling `address`, with the channel arguments
// they need (the TLS name override). A TCP address with neither a CA nor
// --insecure is InvalidArgument.
struct ClientCredentials {
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
  std::string server_name_override;                       // "" = none
  // Plaintext, for Unix sockets and tests.
  static ClientCredentials Plaintext() { return {grpc::InsecureChannelCredentials(), ""}; }
};
absl::StatusOr<ClientCredentials> ChannelCredentialsFor(const std::string& address,
                                                        const TransportSecurity& security);

// Who is calling: the client certificate's CN (mTLS), else "token:<id>",
// else the peer address ("ipv4:1.2.3.4:5678", "unix:..."). Only verified
// identities reach a handler: a call whose certificate or token is refused
// never gets that far.
std::string PeerIdentity(const grpc::ServerContext& context);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_TRANSPORT_SECURITY_H_
