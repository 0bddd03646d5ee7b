/*
 * ThreatML default rules: API combinations typical of malicious behaviour.
 * Written for ThreatML. Each needs the whole combination, in the import table
 * or as strings (dynamic resolution), so ordinary programs rarely match.
 */
import "pe"

rule ThreatML_Process_Injection_Imports
{
    meta:
        description = "Imports the classic remote-thread injection set: open a process, allocate and write its memory, start a thread in it"
        author = "ThreatML"
        attack = "T1055.002"
        score = 60
    condition:
        uint16(0) == 0x5A4D and
        pe.imports(/kernel32.dll/i, /^OpenProcess$/) and
        pe.imports(/kernel32.dll/i, /^VirtualAllocEx(Numa)?$/) and
        pe.imports(/kernel32.dll/i, /^WriteProcessMemory$/) and
        (pe.imports(/kernel32.dll/i, /^CreateRemoteThread(Ex)?$/) or pe.imports(/ntdll.dll/i, /^(Nt|Rtl)CreateUserThread$/i) or
         pe.imports(/kernel32.dll/i, /^QueueUserAPC$/))
}

rule ThreatML_Process_Injection_Strings
{
    meta:
        description = "Names the remote-thread injection APIs as strings (resolved at run time with GetProcAddress)"
        author = "ThreatML"
        attack = "T1055"
        score = 50
    strings:
        $gpa = "GetProcAddress" ascii
        $a1 = "VirtualAllocEx" ascii wide
        $a2 = "WriteProcessMemory" ascii wide
        $a3 = "CreateRemoteThread" ascii wide
        $a4 = "NtCreateThreadEx" ascii wide
    condition:
        uint16(0) == 0x5A4D and $gpa and $a1 and $a2 and ($a3 or $a4) and
        not pe.imports(/kernel32.dll/i, /^WriteProcessMemory$/) and
        not pe.exports("WriteProcessMemory") and not pe.exports("VirtualAllocEx")
}

rule ThreatML_Process_Hollowing_Imports
{
    meta:
        description = "Process hollowing set: unmap a suspended process's image, write a new one, redirect its thread"
        author = "ThreatML"
        attack = "T1055.012"
        score = 70
    strings:
        $unmap1 = "NtUnmapViewOfSection" ascii wide
        $unmap2 = "ZwUnmapViewOfSection" ascii wide
    condition:
        uint16(0) == 0x5A4D and any of ($unmap*) and
        pe.imports(/kernel32.dll/i, /^WriteProcessMemory$/) and
        pe.imports(/kernel32.dll/i, /^(Wow64)?SetThreadContext$/) and
        pe.imports(/kernel32.dll/i, /^ResumeThread$/)
}

rule ThreatML_Keylogger_Imports
{
    meta:
        description = "Low-level keyboard hook or key-state polling together with foreground-window tracking"
        author = "ThreatML"
        attack = "T1056.001"
        score = 40
    condition:
        uint16(0) == 0x5A4D and
        (pe.imports(/user32.dll/i, /^SetWindowsHookEx[AW]$/) or pe.imports(/user32.dll/i, /^GetAsyncKeyState$/)) and
        pe.imports(/user32.dll/i, /^GetForegroundWindow$/) and
        pe.imports(/user32.dll/i, /^GetWindowText[AW]$/) and
        pe.number_of_imports < 12
}

rule ThreatML_LSASS_Dump
{
    meta:
        description = "Mentions lsass.exe and imports MiniDumpWriteDump: credential dumping from LSASS memory"
        author = "ThreatML"
        attack = "T1003.001"
        score = 70
    strings:
        $lsass = "lsass.exe" ascii wide nocase
    condition:
        uint16(0) == 0x5A4D and $lsass and pe.imports(/dbghelp.dll|dbgcore.dll/i, /^MiniDumpWriteDump$/)
}

rule ThreatML_Embedded_PE_In_Overlay
{
    meta:
        description = "A second complete PE file after the last section (dropper payload carried in the overlay)"
        author = "ThreatML"
        attack = "T1027.009"
        score = 40
    strings:
        $mz = { 4D 5A (90|50|00|78) 00 }
    condition:
        uint16(0) == 0x5A4D and pe.overlay.size > 1024 and
        for any j in (1..#mz) : (
            @mz[j] >= pe.overlay.offset and @mz[j] < pe.overlay.offset + pe.overlay.size and
            uint32(@mz[j] + 0x3C) < 0x400 and uint32(@mz[j] + uint32(@mz[j] + 0x3C)) == 0x00004550
        )
}

rule ThreatML_Ransom_Note_And_Crypto
{
    meta:
        description = "Ransom-note wording together with file-encryption and shadow-copy deletion strings"
        author = "ThreatML"
        attack = "T1486"
        score = 70
    strings:
        $n1 = "your files have been encrypted" ascii wide nocase
        $n2 = "bitcoin" ascii wide nocase
        $n3 = "decrypt" ascii wide nocase
        $v1 = "vssadmin" ascii wide nocase
        $v2 = "delete shadows" ascii wide nocase
        $c1 = "CryptEncrypt" ascii
        $c2 = "BCryptEncrypt" ascii
    condition:
        uint16(0) == 0x5A4D and 2 of ($n*) and any of ($v*) and any of ($c*)
}
