#pragma once
// Errors: every failure a user can cause is an opsis::Error with a message a person can
// act on; the CLI and the server turn them into their own formats in one place.
#include <stdexcept>
#include <string>

namespace opsis {

// A request that cannot be honoured as given (bad field, unknown size, empty prompt).
// `field` names the offending input where there is one ("size", "seconds", ...).
class InvalidArgument : public std::runtime_error {
 public:
  InvalidArgument(const std::string& field, const std::string& message)
      : std::runtime_error(message), field_(field) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// A failure of the environment: a file that cannot be read or written, a codec error.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Work stopped because its caller asked (cancel callback returned true).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace opsis
