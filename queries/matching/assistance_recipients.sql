-- 低保 and 特困 recipients screened for missed identification (registers.md §2,
-- match.missed_assistance): rows of the civil-affairs register of 农村低保 (1) or 特困供养 (2)
-- ongoing on the reference date (${reference_date}) — started on or before it and ended after
-- it or not at all (an empty end_date) — held in a national poverty county of the warehouse
-- (county_type 1 or 2: the `npc` scope of indicators.md).
SELECT substr(r.id_number, 1, 18) AS id_key,
       r.id_number,
       r.county_code,
       r.province_code,
       r.assistance_type,
       r.start_date,
       r.end_date,
       r.source_line
FROM register_civil_affairs AS r
JOIN counties AS c ON c.county_code = r.county_code
WHERE c.county_type IN (1, 2)
  AND r.assistance_type IN (1, 2)
  AND r.start_date <= DATE '${reference_date}'
  AND (r.end_date IS NULL OR r.end_date > DATE '${reference_date}')
