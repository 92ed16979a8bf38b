// Writes a tiny LTX-2 model folder laid out as a real one (models/ltx2/model_folder.hpp,
// write_tiny_model_folder): the parity goldens' checkpoint, a random sharded Gemma 3 and the tiny
// SentencePiece model. What it makes is noise, through the code path real weights take:
//   opsis-ltx2-tiny-folder OUT_DIR [2.0|2.3] [NAME]     (run from the source tree, or set OPSIS_SOURCE_DIR)
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "models/ltx2/model_folder.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: opsis-ltx2-tiny-folder OUT_DIR [2.0|2.3] [NAME]\n");
    return 2;
  }
  const std::string version = argc > 2 ? argv[2] : "2.3";
  const std::string name = argc > 3 ? argv[3] : "ltx-tiny-" + std::string(version == "2.0" ? "2.0" : "2.3");
  const char* env = std::getenv("OPSIS_SOURCE_DIR");
  const std::string source = env ? env : OPSIS_SOURCE_DIR;
  try {
    opsis::ltx2::write_tiny_model_folder(argv[1], version, source + "/tests/parity/ltx2/golden",
                                         source + "/tests/parity/ltx2/tokenizer/tiny_gemma_like.model", name);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-ltx2-tiny-folder: %s\n", e.what());
    return 1;
  }
  std::printf("wrote %s (%s)\n", argv[1], name.c_str());
  return 0;
}
