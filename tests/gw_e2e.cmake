# simtrust-gateway end to end through the real daemon and the real device
# stack (simtrust-card + simtrust connect), openssl and gnutls-cli: stored PSK
# from Get PSK Data over TLS 1.2 / DTLS 1.2 / TLS 1.3, X.509 over DTLS 1.2,
# disabled device refused, SIGHUP reload with a live connection, metrics.
if(TARGET simtrust-gateway AND TARGET simtrust-demo-app AND TARGET simtrust-card
   AND TARGET simtrust-cli)
  add_test(NAME test_gw_e2e
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_e2e.sh ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(test_gw_e2e PROPERTIES LABELS "gateway;e2e" TIMEOUT 300)
endif()
