-- match_summary (registers.md §3): per scope (npc / sample / all, weighted as in
-- indicators.md), level (national 00, province, county), area and figure:
--   rule_id        a rule of registers.md §2, or accuracy.identification (registered
--                  households) / accuracy.exit (exited households)
--   unit           what is checked: persons, children, households, recipients,
--                  exited_households
--   checked        units checked (weighted)
--   flagged        units with at least one finding of the rule (for accuracy.identification
--                  an identification finding, for accuracy.exit any finding)
--   findings       findings (rows of match_findings; a person with two cars has two); NULL for
--                  the accuracy figures
--   rate_per_1000  flagged / checked × 1000
--   accuracy_pct   for the accuracy figures, the share of units without a finding × 100
--                  (识别准确率, 退出准确率); NULL for the rules
-- Rolled up from county_sums by census/indicators.sql (match_rates); as there, an area whose
-- base is 0 has no row (no rate is divided by zero). Unrounded.
WITH figures AS (
    SELECT rule_id, rule_order, unit FROM match_rules
    UNION ALL
    SELECT column1, column2, column3
    FROM (VALUES ('accuracy.identification', 11, 'households'),
                 ('accuracy.exit', 12, 'exited_households'))
),
counted AS (
    SELECT scope, level, area_code, area_name, indicator_id AS rule_id, numerator, denominator
    FROM match_rates
    WHERE indicator_id NOT LIKE '%:%'
),
extra AS (
    SELECT scope, level, area_code,
           substr(indicator_id, 1, strpos(indicator_id, ':') - 1) AS rule_id,
           MAX(CASE WHEN indicator_id LIKE '%:findings' THEN numerator END) AS findings,
           MAX(CASE WHEN indicator_id LIKE '%:clear' THEN value END) AS accuracy_pct
    FROM match_rates
    WHERE indicator_id LIKE '%:%'
    GROUP BY scope, level, area_code, substr(indicator_id, 1, strpos(indicator_id, ':') - 1)
)
SELECT c.scope,
       c.level,
       c.area_code,
       c.area_name,
       c.rule_id,
       g.unit,
       c.denominator AS checked,
       c.numerator AS flagged,
       e.findings,
       1000.0 * c.numerator / c.denominator AS rate_per_1000,
       e.accuracy_pct
FROM counted AS c
JOIN figures AS g ON g.rule_id = c.rule_id
LEFT JOIN extra AS e
  ON e.scope = c.scope AND e.level = c.level AND e.area_code = c.area_code
 AND e.rule_id = c.rule_id
ORDER BY CASE c.scope WHEN 'npc' THEN 1 WHEN 'sample' THEN 2 ELSE 3 END,
         CASE c.level WHEN 'national' THEN 1 WHEN 'province' THEN 2 ELSE 3 END,
         c.area_code,
         g.rule_order
