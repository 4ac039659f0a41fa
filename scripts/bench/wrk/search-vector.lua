-- POST /api/v1/search with JSON vector bodies, cycling through the real vectors in $VSEARCH_WRK_BODIES
-- (one JSON body per line).
local bodies = {}
local index = 0

function init(args)
    for line in io.lines(os.getenv("VSEARCH_WRK_BODIES")) do
        bodies[#bodies + 1] = line
    end
end

function request()
    index = index % #bodies + 1
    return wrk.format("POST", "/api/v1/search?k=4", {["Content-Type"] = "application/json"}, bodies[index])
end

