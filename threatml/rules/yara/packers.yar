/*
 * ThreatML default rules: packers and protectors.
 * Written for ThreatML; identify packing, which hides code from static analysis.
 * A packed file is not malicious by itself: these raise attention, not verdicts.
 */
import "pe"
import "math"

rule ThreatML_Packer_UPX
{
    meta:
        description = "UPX-packed PE: UPX section names and the UPX! marker"
        author = "ThreatML"
        attack = "T1027.002"
        score = 40
    strings:
        $marker = "UPX!"
        $s0 = "UPX0" ascii
        $s1 = "UPX1" ascii
    condition:
        uint16(0) == 0x5A4D and (($s0 in (0..1024) and $s1 in (0..1024)) or ($marker in (0..2048) and 1 of ($s*)))
}

rule ThreatML_Packer_Section_Names
{
    meta:
        description = "PE with section names left by a known packer or protector (MPRESS, ASPack, Themida, VMProtect, Enigma, NsPack, PECompact, Petite)"
        author = "ThreatML"
        attack = "T1027.002"
        score = 40
    condition:
        uint16(0) == 0x5A4D and for any i in (0..pe.number_of_sections - 1) : (
            pe.sections[i].name == ".MPRESS1" or pe.sections[i].name == ".aspack" or
            pe.sections[i].name == ".adata" or pe.sections[i].name == ".themida" or
            pe.sections[i].name == ".vmp0" or pe.sections[i].name == ".vmp1" or
            pe.sections[i].name == ".enigma1" or pe.sections[i].name == ".nsp0" or
            pe.sections[i].name == "pec1" or pe.sections[i].name == ".petite"
        )
}

rule ThreatML_Packed_High_Entropy_Entry
{
    meta:
        description = "PE whose entry-point section is nearly random (entropy > 7.4) and writable: a self-unpacking stub"
        author = "ThreatML"
        attack = "T1027.002"
        score = 50
    condition:
        uint16(0) == 0x5A4D and pe.number_of_sections > 0 and pe.number_of_sections < 96 and
        for any i in (0..pe.number_of_sections - 1) : (
            pe.entry_point >= pe.sections[i].raw_data_offset and
            pe.entry_point < pe.sections[i].raw_data_offset + pe.sections[i].raw_data_size and
            pe.sections[i].raw_data_size > 1024 and
            (pe.sections[i].characteristics & pe.SECTION_MEM_WRITE) != 0 and
            math.entropy(pe.sections[i].raw_data_offset, pe.sections[i].raw_data_size) > 7.4
        )
}
