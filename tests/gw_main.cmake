# simtrust-gateway daemon glue (issue 5): configuration, the factory, the
# end-to-end demo. The daemon's own parts (server, auth, metrics, API) have
# their own area files.
if(NOT TARGET simtrust_gw)
  return()
endif()

st_add_unit_test(test_gw_config ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_config.c
                 LIBS simtrust_gw LABELS gateway)

# The card's "issue" profile entry the factory uses (card/profile_issue.c).
if(TARGET simtrust-card)
  add_test(NAME test_card_profile_issue
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/card/test_profile_issue.sh
                   $<TARGET_FILE:simtrust-card>)
  set_tests_properties(test_card_profile_issue PROPERTIES LABELS "card;cli" TIMEOUT 120)
endif()

# simtrust-factory: N=5 cards of each form, checked on the card and imported.
if(TARGET simtrust-factory AND TARGET simtrust-card AND TARGET simtrust-cli
   AND TARGET simtrust-registry)
  add_test(NAME test_gw_factory
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_factory.sh
                   $<TARGET_FILE:simtrust-factory> $<TARGET_FILE:simtrust-card>
                   $<TARGET_FILE:simtrust-cli> $<TARGET_FILE:simtrust-registry>)
  set_tests_properties(test_gw_factory PROPERTIES LABELS "gateway;cli" TIMEOUT 300)
endif()

# The main job (scripts/demo.sh --no-build) against this build tree.
if(TARGET simtrust-gateway AND TARGET simtrust-demo-app AND TARGET simtrust-factory
   AND TARGET simtrust-card AND TARGET simtrust-cli)
  add_test(NAME test_gw_demo
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_demo.sh ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(test_gw_demo PROPERTIES LABELS "gateway;e2e" TIMEOUT 600)
endif()
