//! Synthetic Chinese personal and village names.
//!
//! Surnames follow the rough frequency of the most common Chinese surnames; given names are
//! one or two characters from lists of common name characters. Names are synthetic; any
//! match with a real person is chance.

use rand::Rng;

/// The most common surnames, most frequent first (the first ten cover ~40 % of people).
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "任", "卢", "姚", "沈", "钟", "姜", "崔", "谭", "陆", "范", "汪", "廖", "石", "金", "韦", "贾",
    "夏", "付", "方", "邹", "熊", "白", "孟", "秦", "邱", "侯", "江", "尹", "薛", "闫", "段", "雷",
    "龙", "黎", "史", "陶", "贺", "毛", "郝", "顾", "龚", "邵", "万", "覃", "武", "钱", "戴", "严",
    "欧阳", "司马",
];

const MALE_CHARS: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳", "建", "国",
    "志", "文", "德", "福", "贵", "荣", "生", "成", "山", "海", "春", "永", "忠", "兴", "昌", "发",
];

const FEMALE_CHARS: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "桂", "英", "华", "兰", "梅", "琴",
    "云", "莲", "红", "燕", "萍", "雪", "婷", "慧", "晶", "倩", "洁", "颖", "琳", "珍", "凤", "翠",
];

const VILLAGE_FIRST: &[&str] = &[
    "大", "小", "上", "下", "东", "西", "南", "北", "中", "新", "老", "高", "石", "马", "龙", "金",
    "青", "白", "黄", "红", "柳", "杨", "桃", "李", "张", "王", "刘", "团", "和", "平", "安", "永",
];

const VILLAGE_SECOND: &[&str] = &[
    "坪", "寨", "坝", "沟", "湾", "岭", "山", "河", "塘", "桥", "庄", "洞", "坡", "冲", "岩", "田",
    "水", "家", "林", "峰", "溪", "场", "营", "堡", "口", "屯", "苑", "湖", "阳", "丰", "兴", "星",
];

/// Draw a surname (skewed towards the common ones).
pub fn surname<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    // Squaring a uniform draw favours the front of the list.
    let u: f64 = rng.random();
    SURNAMES[((u * u) * SURNAMES.len() as f64) as usize % SURNAMES.len()]
}

/// Append a one- or two-character given name for `sex` (1 male, 2 female).
pub fn push_given_name<R: Rng + ?Sized>(rng: &mut R, sex: u8, out: &mut String) {
    let chars = if sex == 1 { MALE_CHARS } else { FEMALE_CHARS };
    out.push_str(chars[rng.random_range(0..chars.len())]);
    if rng.random_bool(0.7) {
        out.push_str(chars[rng.random_range(0..chars.len())]);
    }
}

/// A full name: surname followed by a given name.
pub fn full_name<R: Rng + ?Sized>(rng: &mut R, surname: &str, sex: u8) -> String {
    let mut s = String::with_capacity(12);
    s.push_str(surname);
    push_given_name(rng, sex, &mut s);
    s
}

/// A village name such as 石坪村.
pub fn village_name<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut s = String::with_capacity(9);
    s.push_str(VILLAGE_FIRST[rng.random_range(0..VILLAGE_FIRST.len())]);
    s.push_str(VILLAGE_SECOND[rng.random_range(0..VILLAGE_SECOND.len())]);
    s.push('村');
    s
}
