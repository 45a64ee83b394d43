"""The registered decision rule in words, in every language the platform writes: the Trial
page and the dossier word the rule with these phrases (``experiments.trial_decision``)."""

RULE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "rule.scale": "Scale when {metric} is significantly {better} ({correction} p < {alpha}) "
        "and {within} (the worse end of each 95% interval).",
        "rule.stop": "Stop when {metric} is significantly worse, or a guardrail's whole 95% "
        "interval lies beyond its margin.",
        "rule.iterate": "Extend/Iterate otherwise, with the extra time or units that would give "
        "{power} power to detect a {mde} change.",
        "rule.higher": "higher",
        "rule.lower": "lower",
        "rule.within": "every guardrail stays within its margin: {guardrails}",
        "rule.no_guardrails": "there are no guardrails",
        "rule.guardrail": "{metric} (may worsen by {margin})",
        "rule.no_margin": "no margin registered",
        "correction_rule.holm": "Holm-corrected",
        "correction_rule.bh": "Benjamini-Hochberg-corrected",
        "correction_rule.none": "uncorrected",
    },
    "zh-Hant": {
        "rule.scale": "當 {metric} 顯著{better}（{correction} p < {alpha}），且{within}"
        "（以各 95% 區間較差的一端判斷），建議擴大推行。",
        "rule.stop": "當 {metric} 顯著變差，或任何護欄指標的整個 95% 區間超出其容許範圍，"
        "建議停止。",
        "rule.iterate": "其他情況建議延長／調整，並估算要以 {power} 檢定力偵測 {mde} 的變化"
        "所需的額外時間或單位。",
        "rule.higher": "較高",
        "rule.lower": "較低",
        "rule.within": "所有護欄指標均在容許範圍內：{guardrails}",
        "rule.no_guardrails": "沒有護欄指標",
        "rule.guardrail": "{metric}（最多可變差 {margin}）",
        "rule.no_margin": "未登記容許範圍",
        "correction_rule.holm": "經 Holm 校正的",
        "correction_rule.bh": "經 Benjamini-Hochberg 校正的",
        "correction_rule.none": "未經校正的",
    },
}
