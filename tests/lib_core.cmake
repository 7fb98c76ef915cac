# libsimtrust core (lib/core: APDU layer, TLV, IoT SAFE client) and the TCP
# transport. The IoT SAFE tests drive simtrust-card in-process through
# tests/support/inproc_transport.c and the shared test card of
# tests/support/card_fixture.c (built by card_crypto.cmake).
if(NOT TARGET simtrust_core)
  return()
endif()

st_add_unit_test(test_lib_tlv ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_tlv.c
                 LIBS simtrust_core LABELS lib)
st_add_unit_test(test_lib_apdu ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_apdu.c
                 LIBS simtrust_core LABELS lib)

if(NOT TARGET st_card_fixture OR NOT TARGET simtrust)
  return()
endif()

add_library(st_inproc_transport STATIC ${CMAKE_CURRENT_SOURCE_DIR}/support/inproc_transport.c)
target_include_directories(st_inproc_transport PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_link_libraries(st_inproc_transport PUBLIC simtrust_core simtrust_card)

foreach(t iotsafe iotsafe_errors threads)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_${t}.c)
    st_add_unit_test(test_lib_${t} ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_${t}.c
                     LIBS st_inproc_transport st_card_fixture simtrust simtrust_card
                     OpenSSL::Crypto LABELS lib)
  endif()
endforeach()

# TCP transport against `simtrust-card serve --tcp 127.0.0.1:0`; skips
# (exit 77) when the program is not built.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_tcp.c)
  st_add_unit_test(test_lib_tcp ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_lib_tcp.c
                   LIBS st_inproc_transport st_card_fixture simtrust simtrust_card LABELS lib)
  set_tests_properties(test_lib_tcp PROPERTIES SKIP_RETURN_CODE 77)
  if(TARGET simtrust-card)
    set_tests_properties(test_lib_tcp PROPERTIES
                         ENVIRONMENT "ST_CARD_BIN=$<TARGET_FILE:simtrust-card>")
  endif()
endif()
