-- The matching rules of registers.md §2, in the order the outputs list them: each rule's
-- department, the register file it reads and the census unit it checks (persons, children aged
-- 6-15, households that report their existing housing safe, or — for missed assistance — the
-- register's ongoing 低保/特困 recipients).
SELECT column1 AS rule_id, column2 AS rule_order, column3 AS department,
       column4 AS register_file, column5 AS unit
FROM (VALUES
    ('match.deceased',          1,  'public_security',   'deaths.csv',            'persons'),
    ('match.vehicle',           2,  'public_security',   'vehicles.csv',          'persons'),
    ('match.business',          3,  'market_regulation', 'businesses.csv',        'persons'),
    ('match.public_employee',   4,  'finance',           'public_employees.csv',  'persons'),
    ('match.urban_property',    5,  'housing',           'urban_property.csv',    'persons'),
    ('match.schooling',         6,  'education',         'students.csv',          'children'),
    ('match.medical_insurance', 7,  'medical_insurance', 'medical_insurance.csv', 'persons'),
    ('match.disability',        8,  'disability',        'disability.csv',        'persons'),
    ('match.housing',           9,  'housing',           'dangerous_housing.csv', 'households'),
    ('match.missed_assistance', 10, 'civil_affairs',     'civil_affairs.csv',     'recipients')
)
