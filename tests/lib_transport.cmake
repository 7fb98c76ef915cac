# libsimtrust transports (lib/transport/, docs/transports.md):
#   test_at_transport    AT modem: reply parser, fake modems on pty pairs, simtrust-card's
#                        modem emulator (label "at")
#   test_pcsc_transport  PC/SC through pcscd + vpcd reader 1 and simtrust-card --vpcd
#                        (label "pcsc"); its pcscd comes from the fixture below
#   test_transport_e2e, test_transport_e2e_pcsc
#                        the IoT SAFE client (sign + verify, read file...) over each
#                        transport against simtrust-card (exit 77: skipped)
# Both skip what needs simtrust-card when it is not built, and the PC/SC test skips what
# needs pcscd when none answers.
if(NOT TARGET simtrust)
  return()
endif()

add_library(st_tr_testutil STATIC ${CMAKE_CURRENT_SOURCE_DIR}/lib/tr_support.c)
target_include_directories(st_tr_testutil PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/lib)
target_link_libraries(st_tr_testutil PUBLIC Threads::Threads)

st_add_unit_test(test_at_transport ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_at_transport.c
                 LIBS simtrust st_tr_testutil LABELS at)
# The reply parser is private to the library; the test reaches it directly.
target_include_directories(test_at_transport PRIVATE ${CMAKE_SOURCE_DIR}/lib/transport)

st_add_unit_test(test_pcsc_transport ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_pcsc_transport.c
                 LIBS simtrust st_tr_testutil LABELS pcsc)

st_add_unit_test(test_transport_e2e ${CMAKE_CURRENT_SOURCE_DIR}/lib/test_transport_e2e.c
                 LIBS simtrust st_tr_testutil OpenSSL::Crypto LABELS at)
add_test(NAME test_transport_e2e_pcsc COMMAND test_transport_e2e pcsc)
set_tests_properties(test_transport_e2e_pcsc PROPERTIES LABELS "pcsc" TIMEOUT 300)
set_tests_properties(test_transport_e2e test_transport_e2e_pcsc PROPERTIES SKIP_RETURN_CODE 77)

if(TARGET simtrust-card)
  set_tests_properties(test_at_transport test_pcsc_transport test_transport_e2e
                       test_transport_e2e_pcsc PROPERTIES
                       ENVIRONMENT "ST_CARD_BIN=$<TARGET_FILE:simtrust-card>")
endif()

# pcscd for the PC/SC test: started only if none answers, stopped only if started here.
set(ST_TR_PCSCD_STATE ${CMAKE_CURRENT_BINARY_DIR}/tr-pcscd)
add_test(NAME tr_pcscd_start
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh start
                 ${ST_TR_PCSCD_STATE} $<TARGET_FILE:test_pcsc_transport> --probe)
add_test(NAME tr_pcscd_stop
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh stop ${ST_TR_PCSCD_STATE})
set_tests_properties(tr_pcscd_start PROPERTIES FIXTURES_SETUP tr_pcscd LABELS pcsc TIMEOUT 60
                     SKIP_RETURN_CODE 77)
set_tests_properties(tr_pcscd_stop PROPERTIES FIXTURES_CLEANUP tr_pcscd LABELS pcsc TIMEOUT 60)
# One system pcscd; the front-end tests (tests/frontends.cmake) may start and stop their
# own on reader 0: never run alongside them.
set_tests_properties(tr_pcscd_start tr_pcscd_stop test_pcsc_transport test_transport_e2e_pcsc
                     PROPERTIES RESOURCE_LOCK "simtrust_vpcd_reader0;simtrust_vpcd_reader1")
set_tests_properties(test_pcsc_transport test_transport_e2e_pcsc PROPERTIES
                     FIXTURES_REQUIRED tr_pcscd)
