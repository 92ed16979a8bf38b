// JSON request bodies as the routes read them (Body: the spec's types, nothing converted), and
// data: URLs (input_reference.image_url).
#include <httplib.h>

#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "server/request_body.hpp"

using namespace opsis::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  httplib::Request req;
  req.body.assign(reinterpret_cast<const char*>(data), size);
  try {
    const Body body(req);
    for (const char* field : {"prompt", "model", "seconds", "size", "purpose"}) body.text({field});
    body.text({"video", "id"});
    body.present({"input_reference"});
    body.present({"video", "id"});
    if (auto url = body.text({"input_reference", "image_url"})) data_url_bytes(*url);
    body.required({"prompt"}, "prompt");
  } catch (const opsis::InvalidArgument&) {
  } catch (const nlohmann::json::exception&) {
  }
  // The body's bytes as a data: URL too.
  try {
    data_url_bytes("data:image/png;base64," + req.body);
    data_url_bytes("data:," + req.body);
  } catch (const opsis::InvalidArgument&) {
  }
  return 0;
}
