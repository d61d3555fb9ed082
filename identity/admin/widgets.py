"""Form widgets of the admin."""

from __future__ import annotations

from django import forms


class PermissionTreeWidget(forms.CheckboxSelectMultiple):
    """Checkboxes for WSO2 permission paths, indented as the tree the paths form (docs/admin.md)."""

    template_name = "identity/widgets/permission_tree.html"

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        segments = str(value).strip("/").split("/")  # ["permission", "admin", ...]
        option["depth"] = max(len(segments) - 2, 0)
        option["leaf"] = segments[-1]
        return option
