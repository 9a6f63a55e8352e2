-- Households of the research extract (research-extracts.md §1), before anonymization: every
-- enumerated registered household with its living conditions, assistance, income and the
-- type of its village and county. The columns starting with `_` never leave povcensus:
-- src/extract/mod.rs sorts by _household, replaces it by its keyed pseudonym, generalizes the
-- county, and rounds and top-codes the income per capita (the four parts over the declared
-- household size). The published household size is the number of persons sharing the
-- household's pseudonym in research_persons: src/extract counts them there.
SELECT h.household_id AS _household,
       substr(h.household_id, 1, 6) AS _county,
       (h.income_wage + h.income_business + h.income_property + h.income_transfer)
           / h.household_size AS _income_per_capita,
       CAST(h.poverty_attribute AS BIGINT) AS poverty_attribute,
       CAST(h.registered_year AS BIGINT) AS registered_year,
       CAST(h.exit_year AS BIGINT) AS exit_year,
       CAST(h.food_enough AS BIGINT) AS food_enough,
       CAST(h.clothing_ok AS BIGINT) AS clothing_ok,
       CAST(h.housing_route AS BIGINT) AS housing_route,
       CAST(h.water_quantity_ok AS BIGINT) AS water_quantity_ok,
       CAST(h.water_quality_ok AS BIGINT) AS water_quality_ok,
       CAST(h.water_access AS BIGINT) AS water_access,
       CAST(h.water_reliability AS BIGINT) AS water_reliability,
       CAST(v.is_poor_village AS BIGINT) AS poor_village,
       CAST(c.county_type AS BIGINT) AS county_type,
       c.sampling_weight AS weight
FROM households AS h
JOIN villages AS v ON v.village_code = substr(h.household_id, 1, 12)
JOIN counties AS c ON c.county_code = substr(h.household_id, 1, 6)
WHERE h.enumeration_status = 1
