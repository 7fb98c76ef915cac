# simtrust-gateway daemon glue (issue 5): configuration, the factory, the
# end-to-end demo. The daemon's own parts (server, auth, metrics, API) have
# their own area files.
if(NOT TARGET simtrust_gw)
  return()
endif()

st_add_unit_test(test_gw_config ${CMAKE_CURRENT_SOURCE_DIR}/gateway/test_gw_config.c
                 LIBS simtrust_gw LABELS gateway)
