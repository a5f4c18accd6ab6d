"""Vietnamese roster order: given name, then middle, then family; Vietnamese letters and tone order."""

import random
import unicodedata

from attendance.names import vietnamese_sort_key


def ordered(names):
    shuffled = list(names)
    random.Random(4).shuffle(shuffled)
    return sorted(shuffled, key=vietnamese_sort_key)


def test_given_name_comes_first_then_middle_then_family():
    names = ["Nguyễn Văn Bình", "Trần Thị An", "Lê Văn An", "Lê Thị An", "Phạm Minh Châu"]
    assert ordered(names) == ["Lê Thị An", "Trần Thị An", "Lê Văn An", "Nguyễn Văn Bình", "Phạm Minh Châu"]


def test_vietnamese_letters_follow_their_base_letter():
    # a < ă < â < b, d < đ < e, o < ô < ơ < p, u < ư < v
    assert ordered(["X Âu", "X Bảo", "X An", "X Ăn"]) == ["X An", "X Ăn", "X Âu", "X Bảo"]
    assert ordered(["X Em", "X Đức", "X Dũng"]) == ["X Dũng", "X Đức", "X Em"]
    assert ordered(["X Phúc", "X Ơn", "X Ôn", "X On"]) == ["X On", "X Ôn", "X Ơn", "X Phúc"]
    assert ordered(["X Vy", "X Ưng", "X Uyên"]) == ["X Uyên", "X Ưng", "X Vy"]


def test_tones_break_ties_in_the_vietnamese_order():
    # none, huyền, hỏi, ngã, sắc, nặng
    tones = ["X Ma", "X Mà", "X Mả", "X Mã", "X Má", "X Mạ"]
    assert ordered(tones) == tones


def test_letters_weigh_more_than_tones():
    # "Ánh" (acute) still comes before "Anh"+letter: letters are compared first, over the whole word
    assert ordered(["X Anhh", "X Ánh"]) == ["X Ánh", "X Anhh"]
    assert ordered(["X Bà", "X Ba"]) == ["X Ba", "X Bà"]


def test_nfc_and_nfd_sort_the_same_and_case_does_not_matter():
    name = "Nguyễn Thị Ánh"
    nfd = unicodedata.normalize("NFD", name)
    assert vietnamese_sort_key(nfd)[:3] == vietnamese_sort_key(name)[:3]
    assert ordered([nfd.upper(), "Lê Văn Bảo"])[0] == nfd.upper()
    assert vietnamese_sort_key("ĐỨC")[0][:2] == vietnamese_sort_key("đức")[0][:2]


def test_stacked_marks_in_any_order():
    # "ặ" decomposes with the dot below before the breve; it is still ă with nặng
    assert ordered(["X Ặt", "X Ắt", "X Ất", "X At"]) == ["X At", "X Ắt", "X Ặt", "X Ất"]
    assert ordered(["X Ựa", "X Ừa", "X Ưa", "X Ụa"]) == ["X Ụa", "X Ưa", "X Ừa", "X Ựa"]


def test_one_word_and_empty_names_do_not_fail():
    assert ordered(["Bình", "", "An"]) == ["", "An", "Bình"]


def test_a_class_roster():
    roster = ["Võ Thị Yến", "Nguyễn Hoàng Đạt", "Đặng Văn Dũng", "Trần Ngọc Ánh", "Bùi Thị Ánh",
              "Phan Văn Anh", "Hồ Quốc Bảo", "Lý Gia Hân", "Lâm Gia Hân"]
    assert ordered(roster) == ["Phan Văn Anh", "Trần Ngọc Ánh", "Bùi Thị Ánh", "Hồ Quốc Bảo",
                               "Đặng Văn Dũng", "Nguyễn Hoàng Đạt", "Lâm Gia Hân", "Lý Gia Hân", "Võ Thị Yến"]
