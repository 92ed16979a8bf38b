#pragma once
// An error with an HTTP status, in OpenAI's terms: {"error": {message, type, param, code}}.
// Thrown by the service layer; the HTTP adapter turns it (and every other exception) into
// the envelope in one place.
#include <stdexcept>
#include <string>

namespace opsis::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string code, const std::string& message, std::string param = "")
      : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)), param(std::move(param)) {}
  int status;
  std::string type;   // invalid_request_error | authentication_error | rate_limit_error | server_error
  std::string code;   // machine-readable, or empty
  std::string param;  // the offending field, or empty
  int retry_after_seconds = 0;  // for 429
};

inline ApiError not_found(const std::string& what) {
  return ApiError(404, "invalid_request_error", "not_found", what);
}

}  // namespace opsis::server
