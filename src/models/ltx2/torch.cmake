# The LTX-2 modules that need libtorch: the audio-video transformer, the text projection and
# connectors, the guided sampling loop, the video VAE, the audio VAE decoder and vocoders,
# Gemma 3 (the text encoder), the latent layout and positions, their building blocks, and the
# family's engine Backend over a model folder (backend.cpp).
# Included from the top-level CMakeLists.txt inside its if(Torch_FOUND) block (this directory's
# CMakeLists.txt runs before find_package(Torch), so it holds only the libtorch-free parts).
set(_ltx2 ${CMAKE_CURRENT_LIST_DIR})
add_library(opsis_ltx2 STATIC ${_ltx2}/modules.cpp ${_ltx2}/transformer.cpp ${_ltx2}/text_projection.cpp
                        ${_ltx2}/sampling.cpp ${_ltx2}/video_vae.cpp ${_ltx2}/audio_vae.cpp ${_ltx2}/vocoder.cpp
                        ${_ltx2}/gemma3.cpp ${_ltx2}/latents.cpp ${_ltx2}/backend.cpp)
target_link_libraries(opsis_ltx2 PUBLIC opsis_ltx2_layout opsis_ltx2_tokenizer opsis_engine opsis_core opsis_safetensors ${TORCH_LIBRARIES}
                      PRIVATE nlohmann_json::nlohmann_json)
target_include_directories(opsis_ltx2 PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_include_directories(opsis_ltx2 SYSTEM PUBLIC ${TORCH_INCLUDE_DIRS})

opsis_test(opsis_ltx2_torch_tests SOURCES ${_ltx2}/transformer_test.cpp ${_ltx2}/text_projection_test.cpp
           ${_ltx2}/sampling_test.cpp ${_ltx2}/video_vae_test.cpp ${_ltx2}/audio_test.cpp
           ${_ltx2}/gemma3_test.cpp ${_ltx2}/latents_test.cpp ${_ltx2}/backend_test.cpp LIBS opsis_ltx2)
unset(_ltx2)
