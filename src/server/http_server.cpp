#include "server/http_server.hpp"

#include <httplib.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "models/ltx2/model_folder.hpp"
#include "server/api_error.hpp"
#include "server/api_keys.hpp"
#include "server/byte_ranges.hpp"
#include "cameo/recording_check.hpp"
#include "server/cameos.hpp"
#include "server/encoding.hpp"
#include "server/files.hpp"
#include "server/metrics.hpp"
#include "server/provenance_check.hpp"
#include "server/request_body.hpp"
#include "server/routes.hpp"
#include "server/webhooks.hpp"
#include "store/orphan_blobs.hpp"

namespace opsis::server {

namespace {

using nlohmann::json;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---- serialisation ---------------------------------------------------------------------

json nullable(int64_t v) { return v ? json(v) : json(nullptr); }
json nullable(const std::string& v) { return v.empty() ? json(nullptr) : json(v); }

json video_json(const store::VideoRecord& v) {
  return {{"id", v.id},
          {"object", "video"},
          {"model", v.model},                     // the name the client asked for (an alias stays an alias)
          {"resolved_model", model_that_ran(v)},  // what made it
          {"status", store::name(v.status)},
          {"progress", v.progress},
          {"created_at", v.created_at},
          {"completed_at", nullable(v.completed_at)},
          {"expires_at", nullable(v.expires_at)},
          {"prompt", v.prompt},
          {"size", v.size},
          {"seconds", v.seconds},
          {"remixed_from_video_id", nullable(v.remixed_from)},
          {"error", v.error_code.empty() ? json(nullptr) : json{{"code", v.error_code}, {"message", v.error_message}}}};
}

// ---- errors: every failure becomes OpenAI's envelope here, and only here ----------------

// x-request-id, set on every response before anything else is written to it.
constexpr const char* kRequestIdHeader = "x-request-id";

void write_error(httplib::Response& res, int status, const std::string& type, const std::string& code,
                 const std::string& message, const std::string& param) {
  res.status = status;
  json body = {{"error", {{"message", message}, {"type", type}, {"param", nullable(param)}, {"code", nullable(code)}}}};
  if (res.has_header(kRequestIdHeader)) body["error"]["request_id"] = res.get_header_value(kRequestIdHeader);
  // Messages quote what the client sent (a Range header, a variant), which need not be UTF-8:
  // replaced, not thrown, since this also runs where nothing would catch it.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void write_exception(httplib::Response& res, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    if (e.retry_after_seconds > 0) res.set_header("Retry-After", std::to_string(e.retry_after_seconds));
    write_error(res, e.status, e.type, e.code, e.what(), e.param);
  } catch (const InvalidArgument& e) {
    write_error(res, 400, "invalid_request_error", "invalid_value", e.what(), e.field());
  } catch (const json::exception& e) {
    write_error(res, 400, "invalid_request_error", "invalid_json", std::string("the request body is not valid: ") + e.what(), "");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis serve: internal error (request %s): %s\n", res.get_header_value(kRequestIdHeader).c_str(), e.what());
    write_error(res, 500, "server_error", "internal_error", std::string("internal error: ") + e.what(), "");
  } catch (...) {
    write_error(res, 500, "server_error", "internal_error", "internal error", "");
  }
}

const char* status_text(int status) {
  switch (status) {
    case 404: return "no such route; see /v1/openapi.json for what this server serves";
    case 405: return "method not allowed";
    case 413: return "the request body is too large";
    case 416: return "the requested range is not satisfiable";
    default: return "request failed";
  }
}

// ---- the adapter -------------------------------------------------------------------------

thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local std::string t_request_user;

// Starts a request's bookkeeping: its clock, and its id ("req_" + 32 hex, as OpenAI's), sent as
// x-request-id on the response and written in the access log and error bodies.
void begin_request(httplib::Response& res) {
  t_request_start = std::chrono::steady_clock::now();
  t_request_user.clear();
  res.set_header(kRequestIdHeader, "req_" + random_hex(16));
}

// cpp-httplib 0.11 applies the Range header to every response it writes (JSON and errors
// included) without checking it against the length; the content route answers ranges itself,
// so httplib is given none. The Request is a non-const object inside httplib that it hands
// to handlers as const, so clearing its parsed ranges is well-defined.
void take_ranges_from_httplib(const httplib::Request& req) { const_cast<httplib::Request&>(req).ranges.clear(); }

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(millis));
  return text;
}

class HttpApi {
 public:
  HttpApi(const ServerConfig& config, store::MetadataStore& store, store::BlobStore& blobs, const ModelRegistry& models,
          VideoService& videos, FileService& files, CharacterService& characters, JobRunner& runner, Metrics& metrics)
      : config_(config), store_(store), blobs_(blobs), models_(models), videos_(videos), files_(files),
        characters_(characters), runner_(runner), metrics_(metrics) {}

  void install(httplib::Server& server) {
    server.set_payload_max_length(config_.limits.max_body_bytes);
    server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      begin_request(res);
      take_ranges_from_httplib(req);
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
      write_exception(res, error);
    });
    // httplib's own refusals (no route, body too large, bad range) get the envelope too.
    server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.has_header(kRequestIdHeader)) {
        // Refused before routing: a malformed request line, or a Range header httplib's
        // parser rejects (another unit, spaces, numbers past 2^63) answered 416 outright.
        begin_request(res);
        take_ranges_from_httplib(req);
        // A Range header means nothing to any route but /content, which reads it itself:
        // the request is routed as if httplib had not looked at it. (Other methods are
        // refused before their body is read, so they keep the 416.)
        if (res.status == 416 && (req.method == "GET" || req.method == "HEAD")) {
          for (const auto& [pattern, handler] : get_routes_) {
            std::smatch match;
            if (!std::regex_match(req.path, match, pattern)) continue;
            const_cast<httplib::Request&>(req).matches = match;  // as httplib's router sets it
            res.status = 200;
            handler(req, res);
            return httplib::Server::HandlerResponse::Handled;
          }
          res.status = 404;  // no such route, as without the header
        }
      }
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      write_error(res, res.status, "invalid_request_error", res.status == 413 ? "request_too_large" : "",
                  status_text(res.status), "");
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });

    get(server, "/healthz", [this](const httplib::Request&, httplib::Response& res) {
      guarded(res, [&] {
        const json body = {{"status", "ok"},
                           {"queued", store_.count_with_status(store::VideoStatus::Queued)},
                           {"in_progress", store_.count_with_status(store::VideoStatus::InProgress)},
                           {"workers", runner_.workers()}};
        res.set_content(body.dump(), "application/json");
      });
    });
    get(server, "/metrics", [this](const httplib::Request&, httplib::Response& res) {
      guarded(res, [&] {
        std::string text = metrics_.render(store_.count_with_status(store::VideoStatus::Queued),
                                           store_.count_with_status(store::VideoStatus::InProgress), runner_.workers());
        // Group commit: durable writes and the transactions (fsyncs) they shared.
        const store::WriteBatches batches = store_.write_batches();
        text += "# HELP opsis_store_writes_total Metadata writes committed durably.\n# TYPE opsis_store_writes_total counter\n";
        text += "opsis_store_writes_total " + std::to_string(batches.writes) + "\n";
        text += "# HELP opsis_store_commits_total Transactions (one fsync each) those writes were grouped into.\n";
        text += "# TYPE opsis_store_commits_total counter\nopsis_store_commits_total " + std::to_string(batches.batches) + "\n";
        res.set_content(text, "text/plain; version=0.0.4");
      });
    });
    for (const char* path : {"/openapi.json", "/v1/openapi.json"})
      get(server, path, [](const httplib::Request&, httplib::Response& res) {
        res.set_content(openapi_document(), "application/json");
      });

    // Provenance of an uploaded MP4 (multipart field "file", or the raw body): the C2PA report
    // against this server's root, the invisible watermark read with its key, and the stored
    // video it names (its prompt and owner only for that owner). POST carries the file; the
    // HTTP library (cpp-httplib 0.11) does not read GET bodies, so GET answers how to resend.
    for (const char* path : {"/v1/provenance"}) {
      auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        with_caller(req, res, [&](const Caller& caller) { res.set_content(provenance_json(req, caller).dump(), "application/json"); });
      };
      get(server, path, handler);
      server.Post(path, handler);
    }

    add_file_routes(registrar(server), files_);
    add_character_routes(registrar(server), characters_);

    get(server, "/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller&) {
        json data = json::array();
        for (const auto& m : models_.models())
          data.push_back({{"id", m.name}, {"object", "model"}, {"created", 0}, {"owned_by", "opsis"},
                          {"description", m.description}, {"sizes", m.sizes}, {"seconds", m.seconds},
                          {"input_reference", m.image_to_video ? json(m.input_reference_note) : json(nullptr)}});
        for (const auto& [alias, model] : models_.aliases())
          data.push_back({{"id", alias}, {"object", "model"}, {"created", 0}, {"owned_by", "opsis"}, {"alias_of", model}});
        res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
      });
    });

    server.Post("/v1/videos", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        const Body body(req);
        CreateVideo create;
        create.prompt = body.required({"prompt"}, "prompt");
        create.model = body.text({"model"});
        create.seconds = body.text({"seconds"});
        create.size = body.text({"size"});
        const auto url = body.text({"input_reference", "image_url"});
        const auto file_id = body.text({"input_reference", "file_id"});
        if (url && file_id) throw InvalidArgument("input_reference", "give input_reference.image_url or .file_id, not both");
        if (auto file = body.file("input_reference")) {
          create.input_reference = std::vector<uint8_t>(file->begin(), file->end());
        } else if (url) {
          create.input_reference = url->rfind("data:", 0) == 0 ? data_url_bytes(*url) : fetch_image_url(*url, image_fetch());
        } else if (file_id) {
          create.input_reference = files_.image_for_reference(caller, *file_id);
        } else if (body.present({"input_reference"})) {
          throw InvalidArgument("input_reference", "input_reference must be an image file, {image_url} or {file_id}");
        }
        create.characters = body.character_ids();
        send_video(res, videos_.create(caller, create));
      });
    });
    get(server, "/v1/videos", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        store::ListQuery query;
        if (req.has_param("limit")) query.limit = parse_int(req.get_param_value("limit"), "limit");
        if (req.has_param("order")) {
          const std::string order = req.get_param_value("order");
          if (order != "asc" && order != "desc") throw InvalidArgument("order", "order must be 'asc' or 'desc'");
          query.ascending = order == "asc";
        }
        if (req.has_param("after")) query.after = req.get_param_value("after");
        const store::ListPage page = videos_.list(caller, query);
        json data = json::array();
        for (const auto& v : page.videos) data.push_back(video_json(v));
        const json body = {{"object", "list"},
                           {"data", data},
                           {"first_id", page.videos.empty() ? json(nullptr) : json(page.videos.front().id)},
                           {"last_id", page.videos.empty() ? json(nullptr) : json(page.videos.back().id)},
                           {"has_more", page.has_more}};
        res.set_content(body.dump(), "application/json");
      });
    });
    server.Post("/v1/videos/edits", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        const Body body(req);
        EditVideo edit;
        edit.prompt = body.required({"prompt"}, "prompt");
        edit.video = source_video(body, "edit");
        edit.characters = body.character_ids();
        send_video(res, videos_.edit(caller, edit));
      });
    });
    server.Post("/v1/videos/extensions", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        const Body body(req);
        ExtendVideo extend;
        extend.prompt = body.required({"prompt"}, "prompt");
        extend.seconds = body.required({"seconds"}, "seconds");
        extend.video = source_video(body, "extend");
        extend.characters = body.character_ids();
        send_video(res, videos_.extend(caller, extend));
      });
    });
    get(server, R"(/v1/videos/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) { send_video(res, videos_.retrieve(caller, req.matches[1])); });
    });
    server.Delete(R"(/v1/videos/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        const std::string id = req.matches[1];
        videos_.remove(caller, id);
        res.set_content(json{{"id", id}, {"object", "video.deleted"}, {"deleted", true}}.dump(), "application/json");
      });
    });
    server.Post(R"(/v1/videos/([^/]+)/remix)", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) {
        const Body body(req);
        const std::string prompt = body.required({"prompt"}, "prompt");
        send_video(res, videos_.remix(caller, req.matches[1], prompt, body.character_ids()));
      });
    });
    get(server, R"(/v1/videos/([^/]+)/content)", [this](const httplib::Request& req, httplib::Response& res) {
      with_caller(req, res, [&](const Caller& caller) { send_content(req, res, caller, req.matches[1]); });
    });
  }

  // For a resource's routes file added after install() (/v1/cameos): API-key callers.
  RouteRegistrar api_registrar(httplib::Server& server) { return registrar(server); }

  AppRegistrar app_registrar(httplib::Server& server) {
    auto wrap = [this](httplib::Server::Handler handler) {
      return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] { handler(req, res); });
      };
    };
    AppRegistrar routes;
    routes.get = [this, &server, wrap](const std::string& pattern, httplib::Server::Handler h) { get(server, pattern, wrap(std::move(h))); };
    routes.post = [&server, wrap](const std::string& pattern, httplib::Server::Handler h) { server.Post(pattern, wrap(std::move(h))); };
    routes.del = [&server, wrap](const std::string& pattern, httplib::Server::Handler h) { server.Delete(pattern, wrap(std::move(h))); };
    routes.send_content = [this](const httplib::Request& req, httplib::Response& res, const Caller& owner, const std::string& id) {
      send_content(req, res, owner, id);
    };
    routes.log_user = [](const std::string& user) { t_request_user = user; };
    return routes;
  }

 private:
  // Registers a GET route with httplib, and keeps it for requests httplib refuses before
  // routing (see the error handler).
  void get(httplib::Server& server, const std::string& pattern, httplib::Server::Handler handler) {
    server.Get(pattern, handler);
    get_routes_.emplace_back(std::regex(pattern), std::move(handler));
  }

  RouteRegistrar registrar(httplib::Server& server) {
    auto wrap = [this](CallerHandler handler) {
      return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        with_caller(req, res, [&](const Caller& caller) { handler(req, res, caller); });
      };
    };
    RouteRegistrar routes;
    routes.get = [this, &server, wrap](const std::string& pattern, CallerHandler h) { get(server, pattern, wrap(std::move(h))); };
    routes.post = [&server, wrap](const std::string& pattern, CallerHandler h) { server.Post(pattern, wrap(std::move(h))); };
    routes.del = [&server, wrap](const std::string& pattern, CallerHandler h) { server.Delete(pattern, wrap(std::move(h))); };
    return routes;
  }

  ImageFetchOptions image_fetch() const {
    ImageFetchOptions options = config_.image_fetch;
    options.max_bytes = config_.limits.max_image_bytes;
    return options;
  }

  template <typename F>
  void guarded(httplib::Response& res, F&& work) {
    try {
      work();
    } catch (...) {
      write_exception(res, std::current_exception());
    }
  }

  template <typename F>
  void with_caller(const httplib::Request& req, httplib::Response& res, F&& work) {
    guarded(res, [&] { work(authenticate_request(req)); });
  }

  // `video` of an edit or extension: an uploaded MP4 (multipart file part) or {id}.
  static SourceVideo source_video(const Body& body, const char* verb) {
    SourceVideo source;
    if (auto file = body.file("video")) {
      if (file->empty()) throw InvalidArgument("video", "the uploaded video is empty");
      source.upload = std::move(*file);
    } else if (auto id = body.text({"video", "id"})) {
      source.id = *id;
    } else if (body.present({"video"})) {
      throw InvalidArgument("video", std::string("video must be {id} of a completed video or an uploaded MP4 file"));
    } else {
      throw InvalidArgument("video", std::string("missing required parameter: 'video' (the video to ") + verb +
                                         ": {id} or an uploaded MP4)");
    }
    return source;
  }

  json provenance_json(const httplib::Request& req, const Caller& caller) {
    namespace fs = std::filesystem;
    const std::string& bytes = req.is_multipart_form_data() && req.has_file("file") ? req.get_file_value("file").content : req.body;
    if (bytes.empty())
      throw ApiError(400, "invalid_request_error", "missing_file",
                     req.method == "GET" && req.has_header("Content-Length")
                         ? "this server does not read bodies of GET requests: send the same request with POST"
                         : "send the MP4 as the multipart field \"file\" or as the request body");
    const fs::path scratch = fs::path(config_.data_dir) / "scratch";
    fs::create_directories(scratch);
    const fs::path upload = scratch / ("provenance-" + random_hex(8) + ".mp4");
    struct RemoveUpload {
      fs::path path;
      ~RemoveUpload() { std::error_code ignored; fs::remove(path, ignored); }
    } remove_upload{upload};
    {
      std::ofstream out(upload, std::ios::binary);
      out.write(bytes.data(), std::streamsize(bytes.size()));
      if (!out) throw IoError("cannot write the upload to " + upload.string());
    }
    const auto root = provenance::SigningCredentials::own_root_path(provenance::credentials_directory(config_.data_dir));
    const auto anchors = provenance::read_pem_certificates(root);
    auto check = check_provenance(upload, anchors, provenance::load_watermark_identity(config_.data_dir), &store_);
    json body = check.to_json();
    if (check.stored_video && check.stored_video->user != caller.user) {
      body["watermark"]["video"].erase("user");
      body["watermark"]["video"].erase("prompt");
    }
    return body;
  }

  Caller authenticate_request(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    const std::string bearer = header.rfind("Bearer ", 0) == 0 ? header.substr(7) : "";
    if (is_loopback_host(config_.host) && !any_active_key(store_)) {
      t_request_user = "local";
      return {"local", ""};  // a keyless server on loopback: one local user, whatever key a client sends
    }
    if (bearer.empty())
      throw ApiError(401, "invalid_request_error", "missing_api_key",
                     "no API key given; send Authorization: Bearer <key> (create one with `opsis keys create --user NAME`)");
    auto key = authenticate(store_, bearer);
    if (!key)
      throw ApiError(401, "invalid_request_error", "invalid_api_key", "incorrect API key provided (unknown or revoked)");
    t_request_user = key->user;
    return {key->user, key->id};
  }

  // A stored file, whole or as the byte ranges asked for (RFC 9110 §14), streamed from the
  // blob, which is only ever whole (written aside, then renamed).
  void send_content(const httplib::Request& req, httplib::Response& res, const Caller& caller, const std::string& id) {
    const std::string variant = req.has_param("variant") ? req.get_param_value("variant") : "video";
    const Content content = videos_.content(caller, id, variant);
    const auto path = blobs_.local_path(content.blob_key);
    if (!path) throw not_found("the video's " + variant + " has expired or was removed");
    const uint64_t size = blobs_.size(content.blob_key);
    auto file = std::make_shared<std::ifstream>(*path, std::ios::binary);
    if (!*file) throw IoError("cannot open the stored " + variant);
    res.set_header("Accept-Ranges", "bytes");

    // Range means nothing to HEAD; If-Range names a validator this server never sends
    // (no ETag or Last-Modified), so it never matches and the whole file is the answer.
    RangeDecision ranges;
    if (req.method == "GET" && req.has_header("Range") && !req.has_header("If-Range"))
      ranges = decide_ranges(req.get_header_value("Range"), size);
    if (ranges.kind == RangeDecision::Kind::Unsatisfiable) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      throw ApiError(416, "invalid_request_error", "range_not_satisfiable",
                     "the Range header '" + req.get_header_value("Range").substr(0, 200) + "' selects nothing in the " +
                         std::to_string(size) + " bytes of this " + variant);
    }
    // Copies file[offset, offset + length) to the sink, at most 64 KiB a call.
    auto copy = [file](uint64_t offset, uint64_t length, httplib::DataSink& sink) {
      std::vector<char> buffer(size_t(std::min<uint64_t>(length, 1 << 16)));
      file->clear();
      file->seekg(std::streamoff(offset));
      file->read(buffer.data(), std::streamsize(buffer.size()));
      const std::streamsize got = file->gcount();
      if (got <= 0) return false;
      return sink.write(buffer.data(), size_t(got));
    };
    if (ranges.kind == RangeDecision::Kind::Whole) {
      res.status = 200;
      res.set_content_provider(size_t(size), content.content_type,
                               [copy](size_t offset, size_t length, httplib::DataSink& sink) { return copy(offset, length, sink); });
    } else if (ranges.ranges.size() == 1) {
      const ByteRange range = ranges.ranges.front();
      res.status = 206;
      res.set_header("Content-Range", content_range(range, size));
      res.set_content_provider(size_t(range.length()), content.content_type,
                               [copy, range](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return copy(range.first + offset, length, sink);
                               });
    } else {
      auto body = std::make_shared<MultipartBody>(
          multipart_byteranges(ranges.ranges, size, content.content_type, "opsis-" + random_hex(12)));
      res.status = 206;
      res.set_content_provider(size_t(body->length), body->content_type,
                               [copy, body](size_t offset, size_t length, httplib::DataSink& sink) {
                                 // The piece holding `offset`; each call writes from at most one piece.
                                 uint64_t start = 0;
                                 for (const BodyPiece& piece : body->pieces) {
                                   if (offset < start + piece.size()) {
                                     const uint64_t skip = offset - start;
                                     const uint64_t n = std::min<uint64_t>(length, piece.size() - skip);
                                     if (piece.from_representation) return copy(piece.range.first + skip, n, sink);
                                     return sink.write(piece.text.data() + skip, size_t(n));
                                   }
                                   start += piece.size();
                                 }
                                 return false;
                               });
    }
  }

  void send_video(httplib::Response& res, const store::VideoRecord& video) {
    if (video.status == store::VideoStatus::Queued || video.status == store::VideoStatus::InProgress)
      res.set_header("openai-poll-after-ms", std::to_string(config_.poll_after_ms));
    res.set_content(video_json(video).dump(), "application/json");
  }

  static int parse_int(const std::string& text, const char* field) {
    try {
      size_t used = 0;
      const int value = std::stoi(text, &used);
      if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    throw InvalidArgument(field, std::string(field) + " must be a whole number, not '" + text + "'");
  }

  void log(const httplib::Request& req, const httplib::Response& res) {
    metrics_.request_served(res.status);
    if (!config_.access_log) return;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_request_start).count();
    const json line = {{"time", utc_timestamp()}, {"request_id", res.get_header_value(kRequestIdHeader)},
                       {"remote", req.remote_addr}, {"method", req.method}, {"path", req.path}, {"status", res.status},
                       {"ms", std::round(ms * 100) / 100}, {"user", nullable(t_request_user)}, {"bytes_in", req.body.size()}};
    // The path is percent-decoded client input ("/%ff"): not thrown over, since nothing
    // around httplib's logger catches (it would end the process).
    std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  }

  const ServerConfig& config_;
  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  const ModelRegistry& models_;
  VideoService& videos_;
  FileService& files_;
  CharacterService& characters_;
  JobRunner& runner_;
  Metrics& metrics_;
  std::vector<std::pair<std::regex, httplib::Server::Handler>> get_routes_;
};

// store::collect_orphan_blobs, keeping also the blobs cameos hold as reference media (the
// metadata store does not know the cameo tables).
void collect_orphans(store::MetadataStore& store, store::BlobStore& blobs, CameoConnections& cameos, int64_t grace_seconds) {
  try {
    const int64_t cutoff = now_seconds() - grace_seconds;
    // Listed before the references are read (see store/orphan_blobs.cpp).
    const std::vector<store::StoredBlob> stored = blobs.list();
    std::set<std::string> referenced = store.referenced_blobs();
    referenced.merge(cameos.referenced_blobs());
    int removed = 0;
    for (const store::StoredBlob& blob : stored) {
      if (blob.written_at > cutoff || referenced.count(blob.key)) continue;
      if (blobs.remove_if_written_before(blob.key, cutoff)) ++removed;
    }
    if (removed) std::fprintf(stderr, "opsis serve: removed %d orphan blobs (stored, never recorded)\n", removed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis serve: orphan blob collection failed: %s\n", e.what());
  }
}

// Expired assets and orphan blobs are deleted every sweep_interval_seconds.
class Sweeper {
 public:
  Sweeper(VideoService& videos, store::MetadataStore& store, store::BlobStore& blobs, CameoConnections& cameos,
          int interval_seconds, int64_t orphan_grace_seconds)
      : thread_([this, &videos, &store, &blobs, &cameos, interval_seconds, orphan_grace_seconds] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      try {
        const int removed = videos.sweep_expired(now_seconds());
        if (removed) std::fprintf(stderr, "opsis serve: deleted %d expired videos\n", removed);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "opsis serve: expiry sweep failed: %s\n", e.what());
      }
      collect_orphans(store, blobs, cameos, orphan_grace_seconds);
      lock.lock();
      wake_.wait_for(lock, std::chrono::seconds(interval_seconds), [this] { return stopping_; });
    }
  }) {}
  ~Sweeper() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

int g_signal_fd = -1;

void on_stop_signal(int number) {
  const unsigned char byte = static_cast<unsigned char>(number);
  if (g_signal_fd >= 0) [[maybe_unused]] auto ignored = ::write(g_signal_fd, &byte, 1);
}

class SignalPipe {
 public:
  SignalPipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw IoError("cannot create the signal pipe");
    g_signal_fd = fds_[1];
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGINT, &action, &old_int_);
  }
  ~SignalPipe() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
    g_signal_fd = -1;
    close_writer();
    ::close(fds_[0]);
  }
  // The signal's number, or 0 once the writer is closed.
  int wait() {
    unsigned char byte = 0;
    while (true) {
      const ssize_t n = ::read(fds_[0], &byte, 1);
      if (n == 1) return byte;
      if (n == 0 || errno != EINTR) return 0;
    }
  }
  void close_writer() {
    std::lock_guard lock(mutex_);
    if (fds_[1] < 0) return;
    g_signal_fd = -1;
    ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
  std::mutex mutex_;
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void run_server(const ServerConfig& config) {
  namespace fs = std::filesystem;
  if (config.workers < 1) throw InvalidArgument("workers", "at least one worker is needed");
  if (config.port < 0 || config.port > 65535) throw InvalidArgument("port", "the port must be 0 to 65535");
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) throw IoError("cannot create the data directory " + config.data_dir + ": " + ec.message());

  auto store = store::open_sqlite_store((fs::path(config.data_dir) / "opsis.db").string());
  if (!is_loopback_host(config.host) && !any_active_key(*store))
    throw InvalidArgument("host", "serving on " + config.host +
                                      " (not loopback) requires API keys; create one with `opsis keys create --user NAME`");
  auto blobs = store::open_folder_blob_store((fs::path(config.data_dir) / "blobs").string());
  // The cameo registry and consent ledger live in the same SQLite file as the metadata store;
  // the policy's decisions are logged (one JSON line each, no prompts) in the data directory.
  CameoConnections cameos(cameo::database_path(config.data_dir));
  cameo::RecordingChecker recording_checker(cameo::recording_checks_from_name(config.cameo_checks));
  recording_checker.preload();  // IoError now when pocketsphinx-en-us or opencv-data is missing
  PolicyGate policy(config.policy_rules.empty() ? policy::Policy::built_in() : policy::Policy::load(config.policy_rules),
                    cameos, std::make_unique<policy::JsonLinesDecisionLog>(fs::path(config.data_dir) / "policy-decisions.jsonl"));
  std::vector<std::string> model_folders = config.model_folders;
  for (const std::string& folder : ltx2::registered_model_folders(config.data_dir))
    if (std::find(model_folders.begin(), model_folders.end(), folder) == model_folders.end()) model_folders.push_back(folder);
  auto models = make_default_registry(config.default_model, model_folders);
  Metrics metrics;
  std::unique_ptr<WebhookSender> webhooks;
  if (!config.webhook_url.empty()) webhooks = std::make_unique<WebhookSender>(config.webhook_url, config.webhook_secret, &metrics);

  RunnerOptions runner_options;
  runner_options.workers = config.workers;
  runner_options.max_attempts = config.max_attempts;
  runner_options.retention_seconds = config.retention_seconds;
  runner_options.scratch_folder = (fs::path(config.data_dir) / "scratch").string();
  runner_options.provenance_dir = config.data_dir;
  runner_options.visible_watermark = config.visible_watermark;
  runner_options.recheck = [&policy](const store::VideoRecord& video, const JobRequest& request,
                                     RunnerOptions::CameoUses& cameos_used) {
    return policy.recheck(video.id, video.user, request.scene_text(), request.cameo_ids, &cameos_used);
  };
  runner_options.describe_cameos = [&cameos](const std::string& prompt, const RunnerOptions::CameoUses& cameos_used, bool this_step) {
    std::vector<std::pair<std::string, std::string>> described;
    for (const auto& [handle, cameo_id] : cameos_used)
      described.emplace_back(handle.rfind('@', 0) == 0 ? handle.substr(1) : handle, likeness_words(cameos, cameo_id));
    return cameo::with_likenesses(prompt, described, this_step);
  };
  JobRunner runner(*store, *blobs, *models, runner_options, &metrics, [&webhooks](const store::VideoRecord& video) {
    if (webhooks)
      webhooks->send(video.status == store::VideoStatus::Completed ? "video.completed" : "video.failed", video.id);
  });
  const int requeued = runner.recover();
  if (requeued) std::fprintf(stderr, "opsis serve: re-queued %d jobs cut off by the last stop\n", requeued);
  // Before any worker or request can store a blob: what the last process stored and never
  // recorded (killed in between) goes, once past the grace period.
  collect_orphans(*store, *blobs, cameos, config.orphan_grace_seconds);
  VideoService videos(*store, *blobs, *models, runner, config.limits);
  videos.set_admission_check([&policy](const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids) {
    policy.admit(caller, prompt, cameo_ids);
  });
  videos.set_blob_held([&cameos](const std::string& key) { return cameos.referenced_blobs().count(key) > 0; });
  FileService files(*store, *blobs, config.limits);
  CharacterService characters(cameos, *store, *blobs, policy.policy());

  httplib::Server http;
  const int http_threads = std::max(2, config.http_threads);
  http.new_task_queue = [http_threads] { return new httplib::ThreadPool(size_t(http_threads)); };
  http.set_keep_alive_timeout(2);  // idle connections also hold up a stop this long
  http.set_tcp_nodelay(true);  // small JSON answers would otherwise wait out delayed ACKs (~40 ms)
  http.set_keep_alive_max_count(1000);
  HttpApi api(config, *store, *blobs, *models, videos, files, characters, runner, metrics);
  api.install(http);
  CameoService cameo_service(cameos, *store, *blobs, videos, runner, config.data_dir, recording_checker);
  add_cameo_routes(api.api_registrar(http), cameo_service);
  const auto app = add_app_routes(api.app_registrar(http),
                                  AppServices{videos, *store, cameos, *models, *blobs, config.data_dir, &cameo_service});

  // httplib 0.11 listens with a backlog of 5: a burst of new connections overflows it and
  // the dropped SYNs are retried by clients after 1 s, then 3 s. The socket is captured here
  // and listen() called again with a real backlog once it is bound.
  int listen_socket = -1;
  http.set_socket_options([&listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket = sock;
  });
  int port = config.port;
  if (port == 0) {
    port = http.bind_to_any_port(config.host);
    if (port < 0) throw IoError("cannot bind to " + config.host);
  } else if (!http.bind_to_port(config.host, port)) {
    throw IoError("cannot listen on " + config.host + ":" + std::to_string(port) + " (in use, or not an address of this host)");
  }
  if (listen_socket >= 0) ::listen(listen_socket, SOMAXCONN);
  runner.start();
  Sweeper sweeper(videos, *store, *blobs, cameos, std::max(1, config.sweep_interval_seconds), config.orphan_grace_seconds);

  // SIGTERM/SIGINT: the handler only writes the signal's number to a pipe; this thread
  // reads it and asks the HTTP server to stop (whichever thread the signal interrupted).
  SignalPipe signal_pipe;
  std::thread signal_thread([&] {
    const int received = signal_pipe.wait();
    if (received == 0) return;  // closed: the server stopped by itself
    std::fprintf(stderr, "opsis serve: %s received; finishing running work\n", received == SIGTERM ? "SIGTERM" : "SIGINT");
    http.stop();
    // Now, not after the HTTP threads end: they may wait out idle keep-alive connections.
    runner.shutdown(std::chrono::milliseconds(config.shutdown_grace_ms));
  });
  std::printf("opsis serve: listening on http://%s:%d (data in %s, %d worker%s)\n", config.host.c_str(), port,
              config.data_dir.c_str(), config.workers, config.workers == 1 ? "" : "s");
  std::fflush(stdout);
  const bool listened = http.listen_after_bind();
  signal_pipe.close_writer();
  signal_thread.join();
  runner.shutdown(std::chrono::milliseconds(config.shutdown_grace_ms));
  std::fprintf(stderr, "opsis serve: stopped\n");
  if (!listened) throw IoError("the HTTP server stopped listening unexpectedly");
}

}  // namespace opsis::server
