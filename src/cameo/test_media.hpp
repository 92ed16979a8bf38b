#pragma once
// What the cameo tests read from Debian packages: OpenCV's Haar cascades (opencv-data) and a
// real photo of a face (python3-skimage's astronaut). Tests skip when they are missing.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace opsis::cameo::test {

inline bool have_cascades() {
  return std::filesystem::exists("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml") ||
         std::getenv("OPSIS_HAARCASCADES");
}

// The astronaut photo's path, or "" when no package ships it.
inline std::string astronaut_path() {
  for (const char* p : {"/usr/lib/python3/dist-packages/skimage/data/astronaut.png",
                        "/usr/lib/python3/dist-packages/imageio/resources/images/astronaut.png"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

}  // namespace opsis::cameo::test
