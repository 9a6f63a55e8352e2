//! The register contract as data (`registers.md` §1): the departments that submit registers,
//! their files, the warehouse table each file becomes (`register_<file stem>`), and the type and
//! code list of every column, with the Chinese labels a department may use as headers.
//!
//! Ingest, the generator and the matching pipeline take register column names and domains from
//! here, as they take the census tables' from [`crate::contract::schema`].

use std::fmt;

use crate::contract::schema::{Column, Kind, Table, col as req, data_type, opt};

/// A department that submits registers (the `department` of a register manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Department {
    CivilAffairs,
    Disability,
    Education,
    MedicalInsurance,
    PublicSecurity,
    MarketRegulation,
    Finance,
    Housing,
}

impl Department {
    pub const ALL: [Department; 8] = [
        Department::CivilAffairs,
        Department::Disability,
        Department::Education,
        Department::MedicalInsurance,
        Department::PublicSecurity,
        Department::MarketRegulation,
        Department::Finance,
        Department::Housing,
    ];

    /// The manifest's `department` value.
    pub fn id(self) -> &'static str {
        match self {
            Department::CivilAffairs => "civil_affairs",
            Department::Disability => "disability",
            Department::Education => "education",
            Department::MedicalInsurance => "medical_insurance",
            Department::PublicSecurity => "public_security",
            Department::MarketRegulation => "market_regulation",
            Department::Finance => "finance",
            Department::Housing => "housing",
        }
    }

    /// The department's Chinese short name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Department::CivilAffairs => "民政",
            Department::Disability => "残联",
            Department::Education => "教育",
            Department::MedicalInsurance => "医保",
            Department::PublicSecurity => "公安",
            Department::MarketRegulation => "市场监管",
            Department::Finance => "财政",
            Department::Housing => "住建",
        }
    }

    pub fn from_id(id: &str) -> Option<Department> {
        Department::ALL.into_iter().find(|d| d.id() == id)
    }

    /// The register files this department submits.
    pub fn registers(self) -> impl Iterator<Item = Register> {
        Register::ALL
            .into_iter()
            .filter(move |r| r.department() == self)
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One register file (one warehouse table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Register {
    CivilAffairs,
    Disability,
    Students,
    MedicalInsurance,
    Deaths,
    Vehicles,
    Businesses,
    PublicEmployees,
    UrbanProperty,
    DangerousHousing,
}

/// The column every register table carries after its canonical columns: the province, from
/// the first two digits of `county_code`.
pub const PROVINCE_COLUMN: &str = "province_code";
/// The column every register table carries last: the line of the submitted CSV file the row
/// came from (the header is line 1), so that a finding can name its register row.
pub const LINE_COLUMN: &str = "source_line";

impl Register {
    pub const ALL: [Register; 10] = [
        Register::CivilAffairs,
        Register::Disability,
        Register::Students,
        Register::MedicalInsurance,
        Register::Deaths,
        Register::Vehicles,
        Register::Businesses,
        Register::PublicEmployees,
        Register::UrbanProperty,
        Register::DangerousHousing,
    ];

    pub fn department(self) -> Department {
        match self {
            Register::CivilAffairs => Department::CivilAffairs,
            Register::Disability => Department::Disability,
            Register::Students => Department::Education,
            Register::MedicalInsurance => Department::MedicalInsurance,
            Register::Deaths | Register::Vehicles => Department::PublicSecurity,
            Register::Businesses => Department::MarketRegulation,
            Register::PublicEmployees => Department::Finance,
            Register::UrbanProperty | Register::DangerousHousing => Department::Housing,
        }
    }

    /// The file name inside a register submission.
    pub fn file_name(self) -> &'static str {
        match self {
            Register::CivilAffairs => "civil_affairs.csv",
            Register::Disability => "disability.csv",
            Register::Students => "students.csv",
            Register::MedicalInsurance => "medical_insurance.csv",
            Register::Deaths => "deaths.csv",
            Register::Vehicles => "vehicles.csv",
            Register::Businesses => "businesses.csv",
            Register::PublicEmployees => "public_employees.csv",
            Register::UrbanProperty => "urban_property.csv",
            Register::DangerousHousing => "dangerous_housing.csv",
        }
    }

    /// The warehouse / SQL table name: `register_<file stem>`.
    pub fn table_name(self) -> &'static str {
        match self {
            Register::CivilAffairs => "register_civil_affairs",
            Register::Disability => "register_disability",
            Register::Students => "register_students",
            Register::MedicalInsurance => "register_medical_insurance",
            Register::Deaths => "register_deaths",
            Register::Vehicles => "register_vehicles",
            Register::Businesses => "register_businesses",
            Register::PublicEmployees => "register_public_employees",
            Register::UrbanProperty => "register_urban_property",
            Register::DangerousHousing => "register_dangerous_housing",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Register> {
        Register::ALL.into_iter().find(|r| r.file_name() == name)
    }

    /// The canonical columns, `id_number` and `county_code` first.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Register::CivilAffairs => CIVIL_AFFAIRS,
            Register::Disability => DISABILITY,
            Register::Students => STUDENTS,
            Register::MedicalInsurance => MEDICAL_INSURANCE,
            Register::Deaths => DEATHS,
            Register::Vehicles => VEHICLES,
            Register::Businesses => BUSINESSES,
            Register::PublicEmployees => PUBLIC_EMPLOYEES,
            Register::UrbanProperty => URBAN_PROPERTY,
            Register::DangerousHousing => DANGEROUS_HOUSING,
        }
    }

    /// Resolve a header cell (canonical English name or Chinese label, surrounding spaces
    /// ignored) to the column index.
    pub fn resolve_header(self, header: &str) -> Option<usize> {
        let h = header.trim();
        self.columns()
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(h) || c.label_zh == h)
    }

    /// The warehouse schema: the canonical columns, then `province_code`, then `source_line`.
    pub fn arrow_schema(self) -> arrow::datatypes::SchemaRef {
        use arrow::datatypes::{DataType, Field, Schema};
        let mut fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, data_type(c.kind), true))
            .collect();
        fields.push(Field::new(PROVINCE_COLUMN, DataType::Utf8, false));
        fields.push(Field::new(LINE_COLUMN, DataType::Int64, false));
        std::sync::Arc::new(Schema::new(fields))
    }
}

impl fmt::Display for Register {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.table_name())
    }
}

/// The layout of a submitted CSV file: a census table of a province submission or a register
/// of a department's. Reading, header mapping and field validation work on either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    Census(Table),
    Register(Register),
}

impl Layout {
    /// The table name (census table, or `register_<file stem>`).
    pub fn name(self) -> &'static str {
        match self {
            Layout::Census(t) => t.name(),
            Layout::Register(r) => r.table_name(),
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Layout::Census(t) => t.file_name(),
            Layout::Register(r) => r.file_name(),
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Layout::Census(t) => t.columns(),
            Layout::Register(r) => r.columns(),
        }
    }

    /// Index of a canonical column name in [`Layout::columns`].
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    pub fn resolve_header(self, header: &str) -> Option<usize> {
        match self {
            Layout::Census(t) => t.resolve_header(header),
            Layout::Register(r) => r.resolve_header(header),
        }
    }

    /// The column a rejected record is named by (registers: the ID number).
    pub fn key_column(self) -> Option<&'static str> {
        match self {
            Layout::Census(t) => t.key_column(),
            Layout::Register(_) => Some("id_number"),
        }
    }

    /// The census table, if it is one.
    pub fn table(self) -> Option<Table> {
        match self {
            Layout::Census(t) => Some(t),
            Layout::Register(_) => None,
        }
    }
}

impl From<Table> for Layout {
    fn from(t: Table) -> Layout {
        Layout::Census(t)
    }
}

impl From<Register> for Layout {
    fn from(r: Register) -> Layout {
        Layout::Register(r)
    }
}

impl PartialEq<Table> for Layout {
    fn eq(&self, t: &Table) -> bool {
        *self == Layout::Census(*t)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A register date: any real calendar date from 1900 on; one after the reference date is a
/// warning (a row rule), not an error.
const DATE: Kind = Kind::Date("1900-01-01", "2099-12-31");
const ID: Column = req("id_number", "身份证号", Kind::IdNumber);
const COUNTY: Column = req("county_code", "所在县", Kind::Digits(6));

static CIVIL_AFFAIRS: &[Column] = &[
    ID,
    COUNTY,
    req("assistance_type", "救助类型", Kind::Code(&[1, 2])),
    req("start_date", "开始日期", DATE),
    opt("end_date", "终止日期", DATE),
];

static DISABILITY: &[Column] = &[
    ID,
    COUNTY,
    req(
        "disability_category",
        "残疾类别",
        Kind::Code(&[1, 2, 3, 4, 5, 6, 7]),
    ),
    req("disability_grade", "残疾等级", Kind::Code(&[1, 2, 3, 4])),
    req("card_date", "发证日期", DATE),
];

static STUDENTS: &[Column] = &[
    ID,
    COUNTY,
    req("school_stage", "学段", Kind::Code(&[1, 2, 3, 4, 5])),
    req("enrolment_status", "学籍状态", Kind::Code(&[1, 2, 3])),
];

static MEDICAL_INSURANCE: &[Column] = &[
    ID,
    COUNTY,
    req("scheme", "险种", Kind::Code(&[1, 2])),
    req("year", "参保年度", Kind::Int(1990, 2100)),
    req("status", "参保状态", Kind::Code(&[1, 2])),
];

static DEATHS: &[Column] = &[ID, COUNTY, req("death_date", "死亡日期", DATE)];

static VEHICLES: &[Column] = &[
    ID,
    COUNTY,
    req("vehicle_type", "车辆类型", Kind::Code(&[1, 2, 3, 4])),
    req("registration_date", "登记日期", DATE),
];

static BUSINESSES: &[Column] = &[
    ID,
    COUNTY,
    req("role", "身份", Kind::Code(&[1, 2])),
    req(
        "registered_capital",
        "注册资本",
        Kind::Number {
            min: Some(0.0),
            strict: false,
        },
    ),
    req("status", "状态", Kind::Code(&[1, 2])),
    req("established_date", "成立日期", DATE),
];

static PUBLIC_EMPLOYEES: &[Column] = &[
    ID,
    COUNTY,
    req("employer_type", "单位类型", Kind::Code(&[1, 2])),
    req("start_date", "入职日期", DATE),
];

static URBAN_PROPERTY: &[Column] = &[
    ID,
    COUNTY,
    req("purchase_date", "购房日期", DATE),
    req(
        "area_m2",
        "建筑面积",
        Kind::Number {
            min: Some(0.0),
            strict: true,
        },
    ),
];

/// `grade` is C or D (a row rule refuses A and B: only dangerous houses are registered).
static DANGEROUS_HOUSING: &[Column] = &[
    ID,
    COUNTY,
    req("grade", "危房等级", Kind::Grade),
    req("appraisal_date", "鉴定日期", DATE),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_resolves_its_names_and_labels() {
        for r in Register::ALL {
            let cols = r.columns();
            assert_eq!(cols[0].name, "id_number", "{r}");
            assert_eq!(cols[1].name, "county_code", "{r}");
            for (i, c) in cols.iter().enumerate() {
                assert_eq!(r.resolve_header(c.name), Some(i), "{r}.{}", c.name);
                assert_eq!(r.resolve_header(c.label_zh), Some(i), "{r}.{}", c.label_zh);
            }
            assert_eq!(Register::from_file_name(r.file_name()), Some(r));
            assert_eq!(
                r.table_name().strip_prefix("register_"),
                r.file_name().strip_suffix(".csv"),
                "table names are register_<file stem>"
            );
        }
    }

    #[test]
    fn every_department_has_a_register() {
        for d in Department::ALL {
            assert!(d.registers().next().is_some(), "{d}");
            assert_eq!(Department::from_id(d.id()), Some(d));
        }
        assert_eq!(Department::PublicSecurity.registers().count(), 2);
        assert_eq!(Department::Housing.registers().count(), 2);
    }
}
