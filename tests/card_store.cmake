# Card image, tearing, profile and personalisation tests (card/image.c,
# card/profile.c, card/cli_personalise.c).
set(ST_STORE_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/card/store_fixture.c)

st_add_unit_test(test_card_image ${CMAKE_CURRENT_SOURCE_DIR}/card/test_image.c
                 ${ST_STORE_FIXTURE} LIBS simtrust_card LABELS card)
st_add_unit_test(test_card_tearing ${CMAKE_CURRENT_SOURCE_DIR}/card/test_tearing.c
                 ${ST_STORE_FIXTURE} LIBS simtrust_card LABELS card)
st_add_unit_test(test_card_profile ${CMAKE_CURRENT_SOURCE_DIR}/card/test_profile.c
                 ${ST_STORE_FIXTURE} LIBS simtrust_card LABELS card)

# The personalise command end to end, once card/main.c builds the program.
if(TARGET simtrust-card)
  add_test(NAME test_card_personalise_cli
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/card/test_personalise.sh
                   $<TARGET_FILE:simtrust-card>)
  set_tests_properties(test_card_personalise_cli PROPERTIES LABELS "card;cli" TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
