//! Chinese names, sections and rounding of the census indicators (indicators.md), in the order
//! and wording of the published bulletins (国家脱贫攻坚普查公报 No. 2–4).

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share in percent with this many decimals.
    Percent(usize),
    /// Yuan per person, whole yuan.
    Yuan,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Percent(d) => format!("{v:.d$}"),
            Unit::Yuan => format!("{v:.0}"),
        }
    }

    pub fn xlsx_format(self) -> &'static str {
        match self {
            Unit::Percent(1) => "0.0",
            Unit::Percent(_) => "0.00",
            Unit::Yuan => "#,##0",
        }
    }
}

/// One bulletin section.
pub struct Section {
    pub title: &'static str,
    /// Indicator ids with their names.
    pub items: &'static [(&'static str, &'static str)],
    pub unit: Unit,
    /// The note ([n]) that defines the base.
    pub note: usize,
}

/// Household and person guarantees are shown with 2 decimals, assistance and facilities with 1,
/// as the bulletins do (indicators.md §2).
pub const SECTIONS: &[Section] = &[
    Section {
        title: "“两不愁”实现情况",
        items: &[
            ("food_enough", "不愁吃"),
            ("protein_anytime", "随时能吃肉蛋奶或豆制品"),
            ("clothing_ok", "不愁穿"),
        ],
        unit: Unit::Percent(2),
        note: 1,
    },
    Section {
        title: "义务教育有保障",
        items: &[
            ("edu_in_school", "在校就读"),
            ("edu_home_teaching", "送教上门"),
            ("edu_unable", "因身体原因不具备学习条件"),
            ("edu_dropout", "失学辍学"),
            ("edu_guaranteed", "义务教育有保障"),
        ],
        unit: Unit::Percent(2),
        note: 2,
    },
    Section {
        title: "基本医疗有保障",
        items: &[
            ("med_resident", "参加城乡居民基本医疗保险"),
            ("med_employee", "参加职工基本医疗保险"),
            ("med_special", "享受军人等其他医疗保障"),
            ("med_uninsured", "未参加基本医疗保险"),
            ("med_guaranteed", "基本医疗有保障"),
        ],
        unit: Unit::Percent(2),
        note: 3,
    },
    Section {
        title: "住房安全有保障",
        items: &[
            ("housing_safe_existing", "现住房鉴定或评定安全"),
            ("housing_renovated", "通过危房改造实现住房安全"),
            ("housing_relocated", "通过易地扶贫搬迁解决住房安全"),
            ("housing_unsafe", "住房安全未保障"),
        ],
        unit: Unit::Percent(2),
        note: 1,
    },
    Section {
        title: "饮水安全有保障",
        items: &[
            ("water_quantity_ok", "水量达标"),
            ("water_quality_ok", "水质达标"),
            ("water_piped", "供水入户"),
            ("water_convenient", "取水方便"),
            ("water_inconvenient", "取水不便"),
            ("water_no_shortage", "常年不缺水"),
            ("water_basic_supply", "基本不缺水"),
            ("water_unreliable", "经常缺水"),
            ("water_safe", "饮水安全有保障"),
        ],
        unit: Unit::Percent(2),
        note: 1,
    },
    Section {
        title: "脱贫标准与收入",
        items: &[
            ("guarantees_met", "“两不愁三保障”全部实现"),
            (
                "guarantees_and_water_met",
                "“两不愁三保障”及饮水安全全部实现",
            ),
            ("income_above_line", "人均纯收入达到脱贫标准"),
            ("exit_standard_met", "达到贫困户退出标准"),
            ("wrongly_exited", "已脱贫户中未达退出标准（户）"),
            ("wrongly_exited_persons", "已脱贫人口中未达退出标准（人）"),
            ("income_share_wage", "工资性收入占比"),
            ("income_share_business", "经营净收入占比"),
            ("income_share_property", "财产净收入占比"),
            ("income_share_transfer", "转移净收入占比"),
        ],
        unit: Unit::Percent(2),
        note: 4,
    },
    Section {
        title: "获得帮扶情况",
        items: &[
            ("assist_industry_any", "得到产业帮扶"),
            ("ind_self", "　独立发展产业"),
            ("ind_coop", "　新型经营主体带动"),
            ("ind_training", "　参加生产技术培训"),
            ("ind_credit", "　获得扶贫小额信贷"),
            ("assist_employment_any", "得到就业帮扶"),
            ("emp_training", "　参加职业技能培训"),
            ("emp_tech_school", "　就读技工院校"),
            ("emp_service", "　获得职业介绍等服务"),
            ("emp_startup", "　获得创业扶持"),
            ("emp_public_job", "　安排公益性岗位"),
            ("emp_workshop", "　在扶贫车间就业"),
            ("emp_transport", "　获得外出务工交通补贴"),
            ("assist_health_any", "得到健康帮扶"),
            ("hlt_premium", "　医保参保缴费补贴"),
            ("hlt_one_stop", "　县域内住院一站式结算"),
            ("hlt_chronic", "　慢病签约服务"),
            ("assist_education_any", "得到教育帮扶"),
            ("edu_preschool", "　学前教育资助"),
            ("edu_compulsory", "　义务教育资助"),
            ("edu_highschool", "　普通高中资助"),
            ("edu_vocational", "　中等职业教育资助"),
            ("edu_grant", "　雨露计划等助学补助"),
            ("edu_loan", "　生源地助学贷款"),
        ],
        unit: Unit::Percent(1),
        note: 5,
    },
    Section {
        title: "行政村基础设施和公共服务",
        items: &[
            ("vil_road", "通硬化路"),
            ("vil_road_feasible", "具备条件的通硬化路"),
            ("vil_power", "通大电网"),
            ("vil_power_in_grid", "大电网覆盖范围内通大电网"),
            ("vil_mobile", "通信信号覆盖"),
            ("vil_broadband", "通宽带互联网"),
            ("vil_radio_tv", "广播电视信号覆盖"),
            ("vil_service_centre", "有综合服务设施"),
            ("vil_ecommerce", "有电子商务配送站点"),
            ("vil_water_all", "全部实现集中供水"),
            ("vil_water_part", "部分实现集中供水"),
            ("vil_garbage_all", "全部垃圾集中处理或清运"),
            ("vil_garbage_part", "部分垃圾集中处理或清运"),
            ("vil_clinic", "有卫生室"),
            ("vil_doctor", "有执业（助理）医师或乡村医生"),
            ("vil_library", "有图书室或文化站"),
            ("vil_collective_5w", "村集体经济收入5万元以上"),
            ("vil_township_health", "所在乡镇有卫生院"),
        ],
        unit: Unit::Percent(1),
        note: 6,
    },
    Section {
        title: "乡镇和县公共服务",
        items: &[
            ("twn_health_centre", "乡镇有卫生院"),
            ("twn_primary", "乡镇有小学"),
            ("twn_junior", "乡镇有初中"),
            ("twn_boarding", "乡镇有寄宿制学校"),
            ("twn_culture", "乡镇有综合文化站"),
            ("cty_hospital", "县有县级公立医院"),
            ("cty_grade2", "县有二级以上医院"),
            ("cty_staffed", "县级医院科室和医生配齐"),
            ("cty_junior", "县有初中"),
            ("cty_vocational", "县有中等职业学校"),
            ("cty_technical", "县有技工院校"),
            ("cty_skills", "县有职业技能培训机构"),
            ("cty_library", "县有公共图书馆"),
        ],
        unit: Unit::Percent(1),
        note: 6,
    },
];

/// Per-capita income (a mean in yuan, not a share).
pub const INCOME_MEAN: (&str, &str) = ("income_per_capita_mean", "人均纯收入（元）");

/// The name, unit and section of an indicator id.
pub fn lookup(id: &str) -> Option<(&'static str, Unit, &'static str)> {
    if id == INCOME_MEAN.0 {
        return Some((INCOME_MEAN.1, Unit::Yuan, "脱贫标准与收入"));
    }
    SECTIONS.iter().find_map(|s| {
        s.items
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, name)| (name.trim_start_matches('　'), s.unit, s.title))
    })
}

/// The notes of the bulletin, numbered as `Section::note` refers to them.
pub const NOTES: &[&str] = &[
    "户比例的基数为登记状态为“已登记”的建档立卡户（登记状态代码1）。",
    "义务教育阶段适龄儿童指2020年12月31日已满6周岁、未满16周岁的建档立卡贫困人口；比例的基数为这些儿童。",
    "比例的基数为已登记建档立卡户的家庭成员。",
    "人均纯收入为工资性、经营净、财产净和转移净收入四项之和除以家庭人口数；脱贫标准为2020年每人每年4000元（现价）。贫困户退出标准为“两不愁三保障”全部实现且人均纯收入达到脱贫标准。已脱贫户指脱贫年份不为空的户。",
    "帮扶项目为建档立卡以来获得的帮扶；同一户可获得多项帮扶，各分项之和不等于“得到帮扶”的合计。",
    "行政村、乡镇、县的比例分别以普查范围内的行政村、乡镇、县为基数；“具备条件的”“大电网覆盖范围内的”以相应条件的行政村为基数。",
    "“国家贫困县”指832个国家扶贫开发工作重点县和集中连片特困地区县（县类型1、2），为全面普查数；“非国家贫困县”指抽中的非国家贫困县（县类型3），以县抽样权数加权推算。",
    "本公报数据按四舍五入保留小数：户和人口“两不愁三保障”及饮水指标保留两位小数，帮扶和基础设施、公共服务指标保留一位小数；分项之和与合计可能因四舍五入略有出入。",
];

/// Every indicator of the bulletin in its order: (section title, id, name, unit), the
/// per-capita income after the exit standard.
pub fn catalogue() -> Vec<(&'static str, &'static str, &'static str, Unit)> {
    let mut out = Vec::new();
    for s in SECTIONS {
        for (id, name) in s.items {
            out.push((s.title, *id, name.trim_start_matches('　'), s.unit));
            if *id == "exit_standard_met" {
                out.push((s.title, INCOME_MEAN.0, INCOME_MEAN.1, Unit::Yuan));
            }
        }
    }
    out
}

impl Unit {
    /// The unit as a column shows it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Percent(_) => "%",
            Unit::Yuan => "元/人",
        }
    }
}
