# Device authentication inside the (D)TLS handshake and the metrics of
# simtrust-gateway (issue 5 items 2 and 7; IoT.04 M1, M2, M3): real OpenSSL
# (and GnuTLS) peers in process, a temporary SQLite registry, no mocks.
if(NOT TARGET simtrust_gw)
  return()
endif()

pkg_check_modules(GNUTLS IMPORTED_TARGET gnutls)
if(GNUTLS_FOUND)
  st_add_unit_test(test_gw_auth_psk ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_auth_psk.c
                   LIBS simtrust_gw PkgConfig::GNUTLS LABELS gateway)
endif()
st_add_unit_test(test_gw_auth_x509 ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_auth_x509.c
                 LIBS simtrust_gw LABELS gateway)
st_add_unit_test(test_gw_metrics ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_metrics.c
                 LIBS simtrust_gw LABELS gateway)
