# The TLS API of libsimtrust (lib/tls/, include/simtrust/tls.h), examples/tls-client and
# `simtrust connect`, label "tls" (tests/tls/tls.sh): TLS 1.3, TLS 1.2 and DTLS 1.2 with
# mutual authentication against `openssl s_server -Verify 1` over TCP, the AT modem and
# PC/SC (vpcd reader 1), and the negative cases (wrong CA, expired, wrong name, card error,
# card removed mid-handshake), each with its specific message; psk-tls12 / psk-tls13:
# `simtrust connect --psk` (st_tls_config.psk_label) against `openssl s_server -psk -nocert`.
# The provider is linked in statically, so unlike tests/provider.cmake these run in the
# sanitizer build too.
if(NOT TARGET simtrust_tls OR NOT TARGET simtrust-card OR NOT TARGET simtrust-cli
   OR NOT TARGET tls-client OR NOT TARGET cli_json)
  return()
endif()
set(st_tls_sh sh ${CMAKE_CURRENT_SOURCE_DIR}/tls/tls.sh $<TARGET_FILE:simtrust-card>
    $<TARGET_FILE:simtrust-cli> $<TARGET_FILE:tls-client> $<TARGET_FILE:cli_json>)
foreach(case example tls13 tls12 dtls12 at pcsc neg-ca neg-expired neg-name neg-card-error
        neg-card-removed psk-tls12 psk-tls13)
  add_test(NAME tls_${case} COMMAND ${st_tls_sh} ${case})
  set_tests_properties(tls_${case} PROPERTIES LABELS tls TIMEOUT 180 SKIP_RETURN_CODE 77)
endforeach()
set_tests_properties(tls_at PROPERTIES LABELS "tls;at")

# tls_pcsc: pcscd from the fixture of tests/lib_transport.cmake (started only if none
# answers), with the same locks as the other vpcd tests.
set(ST_TLS_PCSCD_STATE ${CMAKE_CURRENT_BINARY_DIR}/tls-pcscd)
add_test(NAME tls_pcscd_start
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh start
                 ${ST_TLS_PCSCD_STATE} $<TARGET_FILE:simtrust-cli> readers)
add_test(NAME tls_pcscd_stop
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh stop
                 ${ST_TLS_PCSCD_STATE})
set_tests_properties(tls_pcscd_start PROPERTIES FIXTURES_SETUP tls_pcscd LABELS "tls;pcsc"
                     TIMEOUT 60 SKIP_RETURN_CODE 77)
set_tests_properties(tls_pcscd_stop PROPERTIES FIXTURES_CLEANUP tls_pcscd LABELS "tls;pcsc"
                     TIMEOUT 60)
set_tests_properties(tls_pcsc PROPERTIES FIXTURES_REQUIRED tls_pcscd LABELS "tls;pcsc")
set_tests_properties(tls_pcscd_start tls_pcscd_stop tls_pcsc PROPERTIES
                     RESOURCE_LOCK "simtrust_vpcd_reader0;simtrust_vpcd_reader1")
