# Front ends of simtrust-card (docs/card-frontends.md):
#   test_fe_at_parse  AT parser, --latency and endpoint parsing (unit)
#   fe_at             the modem emulator through its pty (label "at")
#   fe_tcp            the TCP server (label "tcp")
#   fe_pcsc_opensc,   the vpcd front end through a real pcscd (label "pcsc"); skipped
#   fe_pcsc_client    (exit 77) when pcscd or the vpcd driver is missing
#   fe_serve_cli_*    `simtrust-card serve` usage and help
st_add_unit_test(test_fe_at_parse ${CMAKE_CURRENT_SOURCE_DIR}/frontend/test_at_parse.c
                 LIBS simtrust_card LABELS frontend)

# Test image, server child process and checks shared by the programs below.
add_library(st_fe_testutil STATIC ${CMAKE_CURRENT_SOURCE_DIR}/frontend/fe_util.c)
target_link_libraries(st_fe_testutil PUBLIC simtrust_card)
target_include_directories(st_fe_testutil PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/frontend)

add_executable(fe_make_image ${CMAKE_CURRENT_SOURCE_DIR}/frontend/fe_make_image.c)
target_link_libraries(fe_make_image PRIVATE st_fe_testutil)

if(TARGET simtrust-card)
  add_executable(fe_at_test ${CMAKE_CURRENT_SOURCE_DIR}/frontend/fe_at_test.c)
  target_link_libraries(fe_at_test PRIVATE st_fe_testutil)
  add_test(NAME fe_at COMMAND fe_at_test $<TARGET_FILE:simtrust-card>)
  set_tests_properties(fe_at PROPERTIES LABELS "at;frontend" TIMEOUT 120)

  add_executable(fe_tcp_test ${CMAKE_CURRENT_SOURCE_DIR}/frontend/fe_tcp_test.c)
  target_link_libraries(fe_tcp_test PRIVATE st_fe_testutil)
  add_test(NAME fe_tcp COMMAND fe_tcp_test $<TARGET_FILE:simtrust-card>)
  set_tests_properties(fe_tcp PROPERTIES LABELS "tcp;frontend" TIMEOUT 120)

  add_executable(fe_pcsc_test ${CMAKE_CURRENT_SOURCE_DIR}/frontend/fe_pcsc_test.c)
  target_link_libraries(fe_pcsc_test PRIVATE st_fe_testutil PkgConfig::PCSC)
  # Both use vpcd reader 0 (port 35963) of the one system pcscd: never in parallel.
  foreach(check opensc client)
    add_test(NAME fe_pcsc_${check}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/pcscd.sh
                     --card $<TARGET_FILE:simtrust-card>
                     --make-image $<TARGET_FILE:fe_make_image>
                     --client $<TARGET_FILE:fe_pcsc_test> ${check})
    set_tests_properties(fe_pcsc_${check} PROPERTIES
                         LABELS "pcsc;frontend" TIMEOUT 180 SKIP_RETURN_CODE 77
                         RESOURCE_LOCK simtrust_vpcd_reader0)
  endforeach()

  add_test(NAME fe_serve_cli_help COMMAND simtrust-card serve --help)
  set_tests_properties(fe_serve_cli_help PROPERTIES LABELS frontend
                       PASS_REGULAR_EXPRESSION "Exit status:.*Examples:")
  # Usage errors exit with 2 (missing front end, bad option values).
  add_test(NAME fe_serve_cli_usage
           COMMAND sh -c "for a in '--image x' '--image x --tcp 99999' '--image x --modem --max-line 3' \
                            '--image x --modem --latency fast' '--image x --bogus' '--vpcd'; do \
                            \"$0\" serve $a 2>/dev/null; rc=$?; \
                            [ $rc -eq 2 ] || { echo \"serve $a: exit $rc, want 2\"; exit 1; }; \
                          done; \"$0\" serve --image /nonexistent/card.img --tcp 0 2>/dev/null; \
                          [ $? -eq 1 ] || { echo 'missing image: want exit 1'; exit 1; }"
                   $<TARGET_FILE:simtrust-card>)
  set_tests_properties(fe_serve_cli_usage PROPERTIES LABELS frontend TIMEOUT 60)
endif()
