-- Census indicators (indicators.md §2): the county sums rolled up by scope and level.
--   scope npc     counties of type 1 or 2 (国家贫困县), unweighted
--   scope sample  counties of type 3 (非国家贫困县), each weighted by its sampling_weight
--   scope all     both together, weighted (the weight of a type 1-2 county is 1)
--   level national (area 00 全国), province (2-digit code), county (6-digit code)
-- value = numerator / denominator × 100 for shares (percent), the plain ratio for the mean
-- (income_per_capita_mean); unrounded. Rows whose denominator is 0 are omitted.
-- Weighted sums are taken in DECIMAL (exact) and converted to float64 at the end: 76 digits
-- (DataFusion's 256-bit decimal), so that no loaded weight or sum can overflow them (a weight
-- of 1e15 times a county income of 1e19 needs 35 digits before the 12 decimals).
WITH scopes (scope, scope_order) AS (
    VALUES ('npc', 1), ('sample', 2), ('all', 3)
),
weighted AS (
    SELECT s.scope, s.scope_order, c.province_code, c.county_code, c.county_name,
           cs.indicator_id, cs.indicator_order,
           CAST(CASE WHEN s.scope = 'npc' THEN 1 ELSE c.sampling_weight END AS DECIMAL(76, 6))
               * CAST(cs.numerator AS DECIMAL(76, 6)) AS numerator,
           CAST(CASE WHEN s.scope = 'npc' THEN 1 ELSE c.sampling_weight END AS DECIMAL(76, 6))
               * CAST(cs.denominator AS DECIMAL(76, 6)) AS denominator
    FROM county_sums AS cs
    JOIN counties AS c ON c.county_code = cs.county_code
    JOIN scopes AS s
      ON (s.scope = 'npc' AND c.county_type IN (1, 2))
      OR (s.scope = 'sample' AND c.county_type = 3)
      OR s.scope = 'all'
),
rolled AS (
    SELECT scope, scope_order, 'national' AS level, 1 AS level_order, '00' AS area_code, '全国' AS area_name,
           indicator_id, indicator_order, SUM(numerator) AS numerator, SUM(denominator) AS denominator
    FROM weighted
    GROUP BY scope, scope_order, indicator_id, indicator_order
    UNION ALL
    SELECT w.scope, w.scope_order, 'province', 2, w.province_code, p.province_name,
           w.indicator_id, w.indicator_order, SUM(w.numerator), SUM(w.denominator)
    FROM weighted AS w
    JOIN ref_provinces AS p ON p.province_code = w.province_code
    GROUP BY w.scope, w.scope_order, w.province_code, p.province_name, w.indicator_id, w.indicator_order
    UNION ALL
    SELECT scope, scope_order, 'county', 3, county_code, county_name,
           indicator_id, indicator_order, SUM(numerator), SUM(denominator)
    FROM weighted
    GROUP BY scope, scope_order, county_code, county_name, indicator_id, indicator_order
)
SELECT scope,
       level,
       area_code,
       area_name,
       indicator_id,
       CAST(numerator AS DOUBLE) AS numerator,
       CAST(denominator AS DOUBLE) AS denominator,
       CASE WHEN indicator_id = 'income_per_capita_mean'
            THEN CAST(numerator AS DOUBLE) / CAST(denominator AS DOUBLE)
            ELSE 100.0 * CAST(numerator AS DOUBLE) / CAST(denominator AS DOUBLE)
       END AS value
FROM rolled
WHERE denominator <> 0
ORDER BY scope_order, level_order, area_code, indicator_order
