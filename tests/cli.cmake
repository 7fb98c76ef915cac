# The simtrust command-line tool (tools/simtrust/, docs/simtrust-cli.md), label "cli":
#   cli_help         every command's --help names all its options; usage errors exit 2
#   cli_tcp, cli_at  every command end to end against simtrust-card over TCP and over the
#                    emulated modem (labels "tcp", "at"), results checked with OpenSSL, the
#                    delivery record and the reference's test vectors
#   cli_pcsc         the same through pcscd + vpcd reader 1 (label "pcsc"); skipped (77)
#                    without pcscd / the vpcd driver. Its pcscd comes from the fixture
#                    cli_pcscd_start / cli_pcscd_stop, which starts one only if none answers.
# JSON output is checked with cli_json (jansson), so the tests need neither jq nor python.
if(NOT TARGET simtrust-cli)
  return()
endif()

add_executable(cli_json ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_json.c)
target_link_libraries(cli_json PRIVATE PkgConfig::JANSSON)

add_test(NAME cli_help COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_help.sh
                               $<TARGET_FILE:simtrust-cli>)
set_tests_properties(cli_help PROPERTIES LABELS "cli" TIMEOUT 120)

if(NOT TARGET simtrust-card)
  return()
endif()

set(st_cli_e2e sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_e2e.sh --tool $<TARGET_FILE:simtrust-cli>
               --card $<TARGET_FILE:simtrust-card> --json $<TARGET_FILE:cli_json>)
add_test(NAME cli_tcp COMMAND ${st_cli_e2e} --transport tcp)
add_test(NAME cli_at COMMAND ${st_cli_e2e} --transport at)
add_test(NAME cli_pcsc COMMAND ${st_cli_e2e} --transport pcsc --reader 1)
set_tests_properties(cli_tcp PROPERTIES LABELS "cli;tcp" TIMEOUT 300)
set_tests_properties(cli_at PROPERTIES LABELS "cli;at" TIMEOUT 300)
set_tests_properties(cli_pcsc PROPERTIES LABELS "cli;pcsc" TIMEOUT 300 SKIP_RETURN_CODE 77)

# pcscd for cli_pcsc (the fixture of tests/lib_transport.cmake, with `simtrust readers` as
# the probe). One system pcscd: never alongside the other PC/SC tests (same locks as theirs).
set(ST_CLI_PCSCD_STATE ${CMAKE_CURRENT_BINARY_DIR}/cli-pcscd)
add_test(NAME cli_pcscd_start
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh start
                 ${ST_CLI_PCSCD_STATE} $<TARGET_FILE:simtrust-cli> readers)
add_test(NAME cli_pcscd_stop
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd-fixture.sh stop
                 ${ST_CLI_PCSCD_STATE})
set_tests_properties(cli_pcscd_start PROPERTIES FIXTURES_SETUP cli_pcscd LABELS "cli;pcsc"
                     TIMEOUT 60 SKIP_RETURN_CODE 77)
set_tests_properties(cli_pcscd_stop PROPERTIES FIXTURES_CLEANUP cli_pcscd LABELS "cli;pcsc"
                     TIMEOUT 60)
set_tests_properties(cli_pcsc PROPERTIES FIXTURES_REQUIRED cli_pcscd)
set_tests_properties(cli_pcscd_start cli_pcscd_stop cli_pcsc PROPERTIES
                     RESOURCE_LOCK "simtrust_vpcd_reader0;simtrust_vpcd_reader1")
