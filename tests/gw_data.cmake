# Data plane of simtrust-gateway (issue 5 items 1, 3, 7): event loop, TLS and
# DTLS sessions, relay with PROXY v2, reload; hostile inputs; interop with the
# openssl and gnutls command-line clients.
if(NOT TARGET simtrust_gw)
  return()
endif()

set(GW_DATA_FX ${CMAKE_CURRENT_SOURCE_DIR}/gateway/gw_data_fixture.c)
foreach(t tls dtls hostile scale interop)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_data_${t}.c)
    st_add_unit_test(test_gw_data_${t} ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_data_${t}.c
                     ${GW_DATA_FX} LIBS simtrust_gw LABELS gateway)
  endif()
endforeach()
