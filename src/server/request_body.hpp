#pragma once
// Request bodies, JSON or multipart/form-data, through one view, for every routes file.
#include <httplib.h>

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace opsis::server {

// A JSON object body or a multipart form, read field by field with the spec's types (strings
// stay strings; anything else is a 400 naming the field).
class Body {
 public:
  explicit Body(const httplib::Request& req) : req_(req) {
    multipart_ = req.is_multipart_form_data();
    if (!multipart_) {
      if (req.body.empty()) {
        json_ = nlohmann::json::object();
      } else {
        json_ = nlohmann::json::parse(req.body);  // nlohmann::json::exception -> 400 in write_exception
        if (!json_.is_object()) throw InvalidArgument("", "the request body must be a JSON object");
      }
    }
  }

  // A text field; `path` like {"video", "id"} means video.id in JSON, video[id] in a form.
  std::optional<std::string> text(std::initializer_list<const char*> path) const {
    if (multipart_) {
      const std::string name = form_name(path);
      if (!req_.has_file(name)) return std::nullopt;
      return req_.get_file_value(name).content;
    }
    const nlohmann::json* node = &json_;
    std::string name;
    for (const char* part : path) {
      if (!name.empty()) name.push_back('.');
      name.append(part);
      if (!node->is_object() || !node->contains(part)) return std::nullopt;
      node = &(*node)[part];
    }
    if (node->is_null()) return std::nullopt;
    if (node->is_string()) return node->get<std::string>();
    // The spec's fields are strings ("seconds": "4", not 4); nothing is converted.
    throw InvalidArgument(name, name + " must be a string, not " + node->type_name());
  }

  // Whether the field is given at all (any type; null counts as absent).
  bool present(std::initializer_list<const char*> path) const {
    if (multipart_) return req_.has_file(form_name(path));
    const nlohmann::json* node = &json_;
    for (const char* part : path) {
      if (!node->is_object() || !node->contains(part)) return false;
      node = &(*node)[part];
    }
    return !node->is_null();
  }

  std::string required(std::initializer_list<const char*> path, const char* field) const {
    auto value = text(path);
    if (!value) throw InvalidArgument(field, std::string("missing required parameter: '") + field + "'");
    return *value;
  }

  // `characters: [{"id": "cameo_..."}]` (JSON), or characters[0][id], characters[1][id] (a
  // form): the ids in order. Anything else, or an id twice, is a 400 on characters.
  std::vector<std::string> character_ids() const {
    std::vector<std::string> ids;
    auto add = [&ids](const std::string& id) {
      if (id.empty() || id.size() > 128) throw InvalidArgument("characters", "each character is {\"id\": \"cameo_...\"}");
      for (const auto& seen : ids)
        if (seen == id) throw InvalidArgument("characters", "character " + id + " is listed twice");
      ids.push_back(id);
    };
    if (multipart_) {
      // characters[0][id], characters[1][id], ... or, as the openai SDKs write a list in a form,
      // characters[][id] once per character (in order: a multimap keeps equal keys as inserted).
      size_t understood = 0;
      for (int i = 0; i < 8; ++i) {
        const std::string index = std::to_string(i);
        auto id = text({"characters", index.c_str(), "id"});
        if (!id) break;
        add(*id);
        ++understood;
      }
      const auto [first, last] = req_.files.equal_range("characters[][id]");
      for (auto part = first; part != last; ++part, ++understood) add(part->second.content);
      // Any other field about characters would otherwise be dropped without a word.
      size_t named = 0;
      for (const auto& [name, part] : req_.files) named += name.rfind("characters", 0) == 0;
      if (named != understood)
        throw InvalidArgument("characters", "send characters as characters[0][id], characters[1][id] (or characters[][id] per character)");
      return ids;
    }
    if (!json_.contains("characters") || json_["characters"].is_null()) return ids;
    const nlohmann::json& list = json_["characters"];
    if (!list.is_array()) throw InvalidArgument("characters", "characters must be a list of {\"id\": \"cameo_...\"}");
    for (const auto& item : list) {
      if (!item.is_object() || !item.contains("id") || !item["id"].is_string())
        throw InvalidArgument("characters", "each character is {\"id\": \"cameo_...\"}");
      add(item["id"].get<std::string>());
    }
    return ids;
  }

  // An uploaded file part (multipart only): a part with a filename.
  std::optional<std::string> file(const std::string& name) const {
    auto part = file_part(name);
    if (!part) return std::nullopt;
    return std::move(part->content);
  }
  std::optional<httplib::MultipartFormData> file_part(const std::string& name) const {
    if (!multipart_ || !req_.has_file(name)) return std::nullopt;
    auto part = req_.get_file_value(name);
    if (part.filename.empty()) return std::nullopt;
    return part;
  }

 private:
  // {"video", "id"} -> "video[id]"
  static std::string form_name(std::initializer_list<const char*> path) {
    std::string name;
    for (const char* part : path) {
      if (name.empty()) {
        name = part;
      } else {
        name.push_back('[');
        name.append(part);
        name.push_back(']');
      }
    }
    return name;
  }

  const httplib::Request& req_;
  bool multipart_ = false;
  nlohmann::json json_;
};

// data:[<mediatype>][;base64],<data> -> bytes. Throws InvalidArgument("input_reference").
std::vector<uint8_t> data_url_bytes(const std::string& url);

}  // namespace opsis::server
