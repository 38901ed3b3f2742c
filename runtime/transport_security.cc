#include "runtime/transport_security.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "runtime/auth_processor.h"

namespace gorl::runtime {
namespace {

constexpr size_t kMaxTokenIdLength = 64;
constexpr size_t kMinSecretLength = 16;
// A PEM or token file larger than this is not one (a typo naming a big file).
constexpr std::streamoff kMaxCredentialFileBytes = 1 << 20;

bool IsTokenChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

absl::StatusOr<std::string> ReadCredentialFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read '", path, "'"));
  in.seekg(0, std::ios::end);
  if (in.tellg() > kMaxCredentialFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' is too large"));
  }
  in.seekg(0);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

// Checks what gRPC would otherwise reject late and obscurely: the PEM
// parses, and the key belongs to the certificate.
absl::Status CheckPem(const TransportSecurity& s, const TransportSecurityFlags& flags) {
  auto bio = [](const std::string& pem) {
    return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), pem.size()));
  };
  X509* ca = nullptr;
  if (!s.ca_pem.empty()) {
    ca = PEM_read_bio_X509(bio(s.ca_pem).get(), nullptr, nullptr, nullptr);
    if (ca == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_ca: no PEM certificate in '", flags.tls_ca, "'"));
    }
    X509_free(ca);
  }
  if (s.cert_pem.empty()) return absl::OkStatus();
  X509* cert = PEM_read_bio_X509(bio(s.cert_pem).get(), nullptr, nullptr, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio(s.key_pem).get(), nullptr, nullptr, nullptr);
  absl::Status status;
  if (cert == nullptr) {
    status = absl::InvalidArgumentError(
        absl::StrCat("--tls_cert: no PEM certificate in '", flags.tls_cert, "'"));
  } else if (key == nullptr) {
    status = absl::InvalidArgumentError(absl::StrCat("--tls_key: no PEM private key in '",
                                                     flags.tls_key, "' (or it is encrypted)"));
  } else if (X509_check_private_key(cert, key) != 1) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "--tls_key '", flags.tls_key, "' is not the key of --tls_cert '", flags.tls_cert, "'"));
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return status;
}

// The token lines of a file ('#' comments and blank lines skipped).
absl::StatusOr<std::vector<RunToken>> ParseTokenLines(const std::string& source,
                                                      const std::string& text) {
  std::vector<RunToken> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    absl::StatusOr<RunToken> token = ParseRunToken(std::string(line));
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " line ", line_number, ": ", token.status().message()));
    }
    tokens.push_back(*std::move(token));
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(source, " holds no token"));
  return tokens;
}

absl::StatusOr<std::vector<RunToken>> LoadTokens(const TransportSecurityFlags& flags) {
  std::string file = flags.token_file;
  std::string source = "--token_file";
  if (file.empty()) {
    const char* env_file = std::getenv("GORL_TOKEN_FILE");
    if (env_file != nullptr && *env_file != '\0') {
      file = env_file;
      source = "$GORL_TOKEN_FILE";
    }
  }
  if (!file.empty()) {
    GORL_ASSIGN_OR_RETURN(const std::string text, ReadCredentialFile(source, file));
    return ParseTokenLines(absl::StrCat(source, " '", file, "'"), text);
  }
  const char* env_token = std::getenv("GORL_TOKEN");
  if (env_token != nullptr && *env_token != '\0') return ParseTokenLines("$GORL_TOKEN", env_token);
  return std::vector<RunToken>{};
}

std::string AuthPropertyValue(const grpc::AuthContext& context, const char* name) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

// The call credentials that attach the token to every call.
class TokenPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenPlugin(std::string token) : header_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status GetMetadata(grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
                           const grpc::AuthContext& /*channel_auth_context*/,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->emplace(kAuthorizationKey, header_);
    return grpc::Status::OK;
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<RunToken> ParseRunToken(const std::string& text) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos) {
    return absl::InvalidArgumentError("a token is <id>.<secret>; this one has no '.'");
  }
  RunToken token{text.substr(0, dot), text.substr(dot + 1)};
  if (token.id.empty() || token.id.size() > kMaxTokenIdLength ||
      !std::all_of(token.id.begin(), token.id.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a token's id is 1 to ", kMaxTokenIdLength, " characters of [A-Za-z0-9_-]"));
  }
  if (token.secret.size() < kMinSecretLength ||
      !std::all_of(token.secret.begin(), token.secret.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(absl::StrCat("the secret of token '", token.id,
                                                   "' must be at least ", kMinSecretLength,
                                                   " characters of [A-Za-z0-9_-]"));
  }
  return token;
}

TransportSecurity TransportSecurity::Insecure() {
  TransportSecurity security;
  security.insecure = true;
  return security;
}

bool IsUnixSocketAddress(const std::string& address) { return absl::StartsWith(address, "unix:"); }

absl::StatusOr<TransportSecurity> LoadTransportSecurity(const TransportSecurityFlags& flags) {
  TransportSecurity security;
  security.mtls = flags.mtls;
  security.server_name = flags.tls_server_name;
  security.insecure = flags.insecure;
  const bool any_tls = !flags.tls_ca.empty() || !flags.tls_cert.empty() || !flags.tls_key.empty() ||
                       flags.mtls || !flags.tls_server_name.empty();
  if (flags.insecure && any_tls) {
    return absl::InvalidArgumentError(
        "--insecure turns TLS off: pass it without --tls_ca, --tls_cert, --tls_key, --mtls and "
        "--tls_server_name");
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (flags.mtls && (flags.tls_ca.empty() || flags.tls_cert.empty())) {
    return absl::InvalidArgumentError(
        "--mtls needs --tls_ca (the CA clients' certificates must chain to) and --tls_cert / "
        "--tls_key (this process's own certificate, also sent as a client)");
  }
  if (!flags.tls_ca.empty()) {
    GORL_ASSIGN_OR_RETURN(security.ca_pem, ReadCredentialFile("--tls_ca", flags.tls_ca));
  }
  if (!flags.tls_cert.empty()) {
    GORL_ASSIGN_OR_RETURN(security.cert_pem, ReadCredentialFile("--tls_cert", flags.tls_cert));
    GORL_ASSIGN_OR_RETURN(security.key_pem, ReadCredentialFile("--tls_key", flags.tls_key));
  }
  GORL_RETURN_IF_ERROR(CheckPem(security, flags));
  GORL_ASSIGN_OR_RETURN(security.tokens, LoadTokens(flags));
  if (flags.insecure && !security.tokens.empty()) {
    return absl::InvalidArgumentError(
        "--insecure with a run token (--token_file, $GORL_TOKEN_FILE or $GORL_TOKEN): the token "
        "would travel in plaintext; use TLS, or unset the token");
  }
  return security;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const TransportSecurity& security, RoleMetrics* metrics) {
  if (IsUnixSocketAddress(address)) return grpc::InsecureServerCredentials();
  if (security.cert_pem.empty()) {
    if (security.insecure) return grpc::InsecureServerCredentials();
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to listen on ", address,
        " without TLS: pass --tls_cert and --tls_key (and --tls_ca, --mtls, --token_file; "
        "`gorl certs` makes them), listen on unix:PATH, or pass --insecure for plaintext"));
  }
  grpc::SslServerCredentialsOptions options(
      security.mtls ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY
                    : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = security.ca_pem;
  options.pem_key_cert_pairs.push_back({security.key_pem, security.cert_pem});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (security.mtls || !security.tokens.empty()) {
    GORL_ASSIGN_OR_RETURN(
        std::shared_ptr<RunAuthProcessor> processor,
        RunAuthProcessor::Create(security.ca_pem, security.mtls, security.tokens, metrics));
    credentials->SetAuthMetadataProcessor(std::move(processor));
  }
  return credentials;
}

absl::StatusOr<ClientCredentials> ChannelCredentialsFor(const std::string& address,
                                                        const TransportSecurity& security) {
  ClientCredentials client;
  if (IsUnixSocketAddress(address)) {
    client.credentials = grpc::InsecureChannelCredentials();
    return client;
  }
  if (security.ca_pem.empty()) {
    if (security.insecure) {
      client.credentials = grpc::InsecureChannelCredentials();
      return client;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to dial ", address,
        " without TLS: pass --tls_ca (the CA that signed the server's certificate; `gorl certs` "
        "makes one), or --insecure for plaintext"));
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.ca_pem;
  options.pem_private_key = security.key_pem;
  options.pem_cert_chain = security.cert_pem;
  client.credentials = grpc::SslCredentials(options);
  if (!security.tokens.empty()) {
    client.credentials = grpc::CompositeChannelCredentials(
        client.credentials, grpc::MetadataCredentialsFromPlugin(
                                std::make_unique<TokenPlugin>(security.tokens.front().text())));
  }
  client.server_name_override = security.server_name;
  return client;
}

std::string PeerIdentity(const grpc::ServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    // A CN counts only where the auth processor verified the certificate:
    // the server requests client certificates only under --mtls.
    std::string cn = AuthPropertyValue(*auth, GRPC_X509_CN_PROPERTY_NAME);
    if (!cn.empty()) return cn;
    std::string token_id = AuthPropertyValue(*auth, kTokenIdProperty);
    if (!token_id.empty()) return absl::StrCat("token:", token_id);
  }
  return context.peer();
}

}  // namespace gorl::runtime
